package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
)

// Set is the group of files one run writes into one directory. Files
// become visible only at Commit, the manifest last, so a reader that sees
// the manifest's new version sees the tables it describes.
type Set struct {
	dir            string
	formats        []Format
	parquetOptions []parquet.WriterOption
	tables         []finisher
	pending        []*pendingFile
	fs             FS
	committed      bool
}

// NewSet prepares writing into dir, creating it if needed.
func NewSet(dir string, formats []Format) (*Set, error) {
	return NewSetFS(dir, formats, OSFS{})
}

// NewSetFS is NewSet writing through fsys.
func NewSetFS(dir string, formats []Format, fsys FS) (*Set, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Set{
		dir:     dir,
		fs:      fsys,
		formats: formats,
		parquetOptions: []parquet.WriterOption{
			parquet.Compression(&parquet.Zstd),
			parquet.CreatedBy("keyrate", "", ""),
		},
	}, nil
}

// Commit finishes every table and writes manifest (if not nil) as
// manifest.json, syncs every file, then renames them into place, the
// manifest last. On error nothing of the set stays: temporary files are
// removed and files already renamed are rolled back to their previous
// versions, so the directory holds the previous complete set.
func (s *Set) Commit(manifest any) error {
	for _, t := range s.tables {
		if err := t.finish(); err != nil {
			s.Abort()
			return err
		}
	}
	if manifest != nil {
		pf, err := createPending(s.fs, filepath.Join(s.dir, "manifest.json"))
		if err != nil {
			s.Abort()
			return err
		}
		s.pending = append(s.pending, pf)
		enc := json.NewEncoder(pf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(manifest); err != nil {
			s.Abort()
			return fmt.Errorf("manifest.json: %w", err)
		}
	}
	for _, pf := range s.pending {
		if err := pf.finish(); err != nil {
			s.Abort()
			return err
		}
	}
	// The manifest was appended last, so it is renamed last.
	for _, pf := range s.pending {
		if err := pf.install(); err != nil {
			s.Abort()
			return err
		}
	}
	s.committed = true
	for _, pf := range s.pending {
		pf.release()
	}
	return nil
}

// Abort removes every temporary file and rolls back files already renamed
// into place. It does nothing after a successful Commit.
func (s *Set) Abort() {
	if s.committed {
		return
	}
	for i := len(s.pending) - 1; i >= 0; i-- {
		s.pending[i].rollback()
	}
}
