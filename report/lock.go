package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// LockName is the lock file a run holds in its output directory.
const LockName = ".keyrate.lock"

// LockedError says another process holds an output directory's lock.
type LockedError struct {
	Dir string
	PID int // 0 when the holder had not yet written its pid
}

func (e *LockedError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("output directory %s is in use by another keyrate run (%s; lock %s)",
		e.Dir, holder, filepath.Join(e.Dir, LockName))
}

// Lock is an exclusive claim on an output directory, so that two runs
// writing the same reports cannot interleave their files. It is an
// advisory flock(2): the kernel drops it when the process dies, so a
// killed run never leaves a stale lock behind.
type Lock struct {
	f          *os.File
	path       string
	createdDir string
}

// LockDir creates dir if needed and locks it, or fails at once with a
// *LockedError naming the holder. The lock file is never opened through
// a symbolic link, nor truncated when it has other names (a hard link):
// whoever can write to a shared output directory could otherwise make
// the run (often root's cron job) create or truncate any file. Such a
// lock path fails with an *UnsafePathError.
func LockDir(dir string) (*Lock, error) {
	l := &Lock{path: filepath.Join(dir, LockName)}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		l.createdDir = dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for {
		f, err := openLockFile(l.path)
		if err != nil {
			l.removeDir()
			return nil, err
		}
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			l.removeDir()
			return nil, fmt.Errorf("locking %s: %w", l.path, err)
		}
		if held {
			pid := readPID(f)
			f.Close()
			return nil, &LockedError{Dir: dir, PID: pid}
		}
		// The previous holder unlinks the file before releasing it; if
		// that happened between our open and our flock, we hold a lock on
		// a file nobody else will open, so try again. (Lstat: a link put
		// in its place is not the file we hold.)
		fi, err1 := f.Stat()
		cur, err2 := os.Lstat(l.path)
		if err1 == nil && err2 == nil && os.SameFile(fi, cur) {
			l.f = f
			break
		}
		f.Close()
	}
	if err := l.f.Truncate(0); err == nil {
		l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return l, nil
}

// openLockFile opens (creating) the lock file at path, refusing a
// symbolic link and a file that is not only the lock (another kind of
// file, or one with several names).
func openLockFile(path string) (*os.File, error) {
	if err := refuseLink(OSFS{}, path); err != nil { // where open cannot refuse it itself
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|oNoFollow, 0o644)
	if err != nil {
		if lerr := refuseLink(OSFS{}, path); lerr != nil { // ELOOP
			return nil, lerr
		}
		return nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, err
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, &UnsafePathError{Path: path, Reason: "is not a regular file (" + fi.Mode().Type().String() + ")"}
	case linkCount(fi) > 1:
		f.Close()
		return nil, &UnsafePathError{Path: path, Reason: "has " + strconv.FormatUint(linkCount(fi), 10) + " names (hard links); truncating it would change a file reachable elsewhere"}
	}
	return f, nil
}

// Unlock removes the lock file and releases the lock; if LockDir created
// the directory and the run left it empty, the directory goes too.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(l.path) // while still holding it; see LockDir
	l.f.Close()
	l.f = nil
	l.removeDir()
}

func (l *Lock) removeDir() {
	if l.createdDir != "" {
		os.Remove(l.createdDir) // fails, as it should, unless empty
	}
}

func readPID(f *os.File) int {
	b, _ := io.ReadAll(io.LimitReader(f, 32))
	pid, _ := strconv.Atoi(string(bytes.TrimSpace(b)))
	return pid
}
