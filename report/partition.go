package report

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// stagingDir is where partitions are written aside, inside the output
// directory (the same file system, so the swap is a rename) but outside
// every table's directory: engines reading TABLE/*/*.parquet with Hive
// partitioning must not see a partition being written (DuckDB does not
// skip hidden directories; it fails on a "partition" named .date=...).
const stagingDir = ".keyrate-staging"

// partitionDir is one partition being written aside.
type partitionDir struct {
	fs         FS
	tmp, final string
	done       bool
}

// partitionDir creates the aside directory for table's date partition.
func (s *Set) partitionDir(table, date string) (string, error) {
	tableDir := filepath.Join(s.dir, table)
	staging := filepath.Join(s.dir, stagingDir)
	final := filepath.Join(tableDir, partitionName(date))
	// Partitions are renamed into the table's directory, and written in
	// the staging one: through a link either would go elsewhere.
	for _, p := range []string{tableDir, staging, final} {
		if err := refuseLink(s.fs, p); err != nil {
			return "", err
		}
	}
	if _, err := s.fs.Stat(tableDir); errors.Is(err, fs.ErrNotExist) {
		s.mu.Lock()
		s.madeDirs = append(s.madeDirs, tableDir) // for Abort, if empty then
		s.mu.Unlock()
	}
	for _, d := range []string{tableDir, staging} {
		if err := s.fs.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	tmp, err := s.fs.MkdirTemp(staging, table+".date="+date+".tmp-")
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.partitions = append(s.partitions, &partitionDir{fs: s.fs, tmp: tmp, final: final})
	s.mu.Unlock()
	return tmp, nil
}

// removeStaging removes the staging directory if no run is using it.
func (s *Set) removeStaging() {
	if len(s.partitions) > 0 {
		s.fs.Remove(filepath.Join(s.dir, stagingDir)) // fails, harmlessly, unless empty
	}
}

// swap puts the new partition in place of the old one, if any. Where the
// system can exchange two names atomically (Linux renameat2), a reader
// sees either the old or the new partition, never neither; elsewhere the
// old one is renamed aside first, leaving a moment with no partition but
// never a mixed or half-written one.
func (p *partitionDir) swap() error {
	if err := p.fs.SyncDir(p.tmp); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if err := p.fs.SyncDir(filepath.Dir(p.tmp)); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	// Checked again just before: the old partition swapped out is
	// removed, and must be the one in the table's directory.
	for _, path := range []string{filepath.Dir(p.final), p.final} {
		if err := refuseLink(p.fs, path); err != nil {
			return err
		}
	}
	if _, err := p.fs.Lstat(p.final); errors.Is(err, fs.ErrNotExist) {
		if err := p.fs.Rename(p.tmp, p.final); err != nil {
			return err
		}
	} else if err := swapNames(p.fs, p.tmp, p.final); err != nil {
		return fmt.Errorf("replacing %s: %w", p.final, err)
	}
	p.done = true
	// After the swap p.tmp holds the old partition.
	p.fs.RemoveAll(p.tmp)
	return p.fs.SyncDir(filepath.Dir(p.final))
}

// cleanup removes the aside directory unless it was swapped in.
func (p *partitionDir) cleanup() {
	if !p.done {
		p.done = true
		p.fs.RemoveAll(p.tmp)
	}
}

// swapNames exchanges tmp and final, atomically where fsys can.
func swapNames(fsys FS, tmp, final string) error {
	if err := fsys.Exchange(tmp, final); !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return renameAside(fsys, tmp, final)
}

// renameAside replaces final by tmp with two renames: final moves to a
// hidden name (then removed by the caller through tmp's name) and tmp
// takes its place.
func renameAside(fsys FS, tmp, final string) error {
	old := tmp + ".old"
	if err := fsys.Rename(final, old); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, final); err != nil {
		fsys.Rename(old, final) // put the old partition back
		return err
	}
	return fsys.Rename(old, tmp)
}
