package report

import (
	"fmt"
	"os"
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
	tmp, final string
	done       bool
}

// partitionDir creates the aside directory for table's date partition.
func (s *Set) partitionDir(table, date string) (string, error) {
	tableDir := filepath.Join(s.dir, table)
	staging := filepath.Join(s.dir, stagingDir)
	if _, err := os.Stat(tableDir); os.IsNotExist(err) {
		s.mu.Lock()
		s.madeDirs = append(s.madeDirs, tableDir) // for Abort, if empty then
		s.mu.Unlock()
	}
	for _, d := range []string{tableDir, staging} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	tmp, err := os.MkdirTemp(staging, table+".date="+date+".tmp-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	s.mu.Lock()
	s.partitions = append(s.partitions, &partitionDir{tmp: tmp, final: filepath.Join(tableDir, "date="+date)})
	s.mu.Unlock()
	return tmp, nil
}

// removeStaging removes the staging directory if no run is using it.
func (s *Set) removeStaging() {
	if len(s.partitions) > 0 {
		os.Remove(filepath.Join(s.dir, stagingDir)) // fails, harmlessly, unless empty
	}
}

// swap puts the new partition in place of the old one, if any. Where the
// system can exchange two names atomically (Linux renameat2), a reader
// sees either the old or the new partition, never neither; elsewhere the
// old one is renamed aside first, leaving a moment with no partition but
// never a mixed or half-written one.
func (p *partitionDir) swap() error {
	if err := syncDir(p.tmp); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if err := syncDir(filepath.Dir(p.tmp)); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if _, err := os.Lstat(p.final); os.IsNotExist(err) {
		if err := os.Rename(p.tmp, p.final); err != nil {
			return err
		}
	} else if err := exchange(p.tmp, p.final); err != nil {
		return fmt.Errorf("replacing %s: %w", p.final, err)
	}
	p.done = true
	// After an exchange p.tmp holds the old partition.
	os.RemoveAll(p.tmp)
	return syncDir(filepath.Dir(p.final))
}

// cleanup removes the aside directory unless it was swapped in.
func (p *partitionDir) cleanup() {
	if !p.done {
		p.done = true
		os.RemoveAll(p.tmp)
	}
}

// renameAside replaces final by tmp with two renames: final moves to a
// hidden name (then removed by the caller through tmp's name) and tmp
// takes its place.
func renameAside(tmp, final string) error {
	old := tmp + ".old"
	if err := os.Rename(final, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Rename(old, final) // put the old partition back
		return err
	}
	return os.Rename(old, tmp)
}

// syncDir flushes a directory's entries to stable storage, so that a
// rename survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
