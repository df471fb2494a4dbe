package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A spill directory is locked by the run that owns it for as long as
// the run lives: its lock file, spillLock, is created aside, locked
// (flock), and only then renamed into place, so that whenever the name
// exists, a live owner holds its lock. The kernel releases the lock when
// the owner dies, however it dies (kill -9 included), so a later run
// that can take the lock knows the owner is dead and removes what it
// left: runs of raw keys, possibly gigabytes (RemoveStaleSpills).
const (
	spillPrefix = "keyrate-spill-"
	spillLock   = ".lock"
)

// makeSpillDir creates a private spill directory in parent and locks
// it; the lock is held until release is called (by removeAll, or by the
// process's death).
func makeSpillDir(parent string) (dir string, release func(), err error) {
	dir, err = os.MkdirTemp(parent, spillPrefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp(dir, ".lock-*")
	if err == nil {
		err = lockFile(f)
		if err == nil {
			err = os.Rename(f.Name(), filepath.Join(dir, spillLock))
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() { f.Close() }, nil
}

// RemoveStaleSpills removes, from the temporary directory parent ("":
// the system's), the spill directories that runs killed before they
// could remove them left: those whose lock this process can take. A
// live run's directory (its lock held, by any process, or not yet in
// place) is never touched, nor anything not a directory owned by this
// user. It returns the directories removed and their size.
func RemoveStaleSpills(parent string) (removed []string, bytes int64, err error) {
	if parent == "" {
		parent = os.TempDir()
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil, 0, fmt.Errorf("temporary directory %s: %w", parent, err)
	}
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), spillPrefix) || !e.IsDir() {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if !ownDir(dir) {
			continue
		}
		f, ok := lockIfDead(filepath.Join(dir, spillLock))
		if !ok {
			continue
		}
		n := treeSize(dir)
		err := os.RemoveAll(dir)
		f.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
		bytes += n
	}
	return removed, bytes, errors.Join(errs...)
}

// treeSize is the size of the files under dir.
func treeSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
