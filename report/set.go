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
}

// NewSet prepares writing into dir, creating it if needed.
func NewSet(dir string, formats []Format) (*Set, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &Set{
		dir:     dir,
		formats: formats,
		parquetOptions: []parquet.WriterOption{
			parquet.Compression(&parquet.Zstd),
			parquet.CreatedBy("keyrate", "", ""),
		},
	}, nil
}

// Commit finishes every table, then renames all files into place, then
// writes manifest (if not nil) as manifest.json. On error every file not
// yet renamed is removed.
func (s *Set) Commit(manifest any) error {
	for _, t := range s.tables {
		if err := t.finish(); err != nil {
			s.Abort()
			return err
		}
	}
	if manifest != nil {
		pf, err := createPending(filepath.Join(s.dir, "manifest.json"))
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
	// The manifest was appended last, so it is renamed last.
	for _, pf := range s.pending {
		if err := pf.commit(); err != nil {
			s.Abort()
			return err
		}
	}
	return nil
}

// Abort removes every file not yet committed. Safe after Commit.
func (s *Set) Abort() {
	for _, pf := range s.pending {
		pf.cleanup()
	}
}
