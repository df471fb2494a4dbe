package report

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// File is one report file being written.
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// FS is the file system a Set, and Recover, work through: every file
// operation goes through it. The default is the operating system's; tests
// inject faults (a full disk, a vanishing directory, a failing rename or
// directory sync) by wrapping it. A Set calls its methods one at a time,
// but the tables' writer goroutines write their Files concurrently, each
// File from one goroutine at a time.
type FS interface {
	// CreateTemp creates a new file as os.CreateTemp does, readable by
	// all (0666 less the umask).
	CreateTemp(dir, pattern string) (File, error)
	// MkdirTemp creates a new directory as os.MkdirTemp does, readable
	// by all (0755).
	MkdirTemp(dir, pattern string) (string, error)
	MkdirAll(path string, perm fs.FileMode) error
	// Open opens a file for reading.
	Open(name string) (io.ReadCloser, error)
	Rename(oldpath, newpath string) error
	// Exchange swaps two names atomically; an error wrapping
	// errors.ErrUnsupported says the system cannot, and nothing changed.
	Exchange(path1, path2 string) error
	Link(oldpath, newpath string) error
	Remove(name string) error
	RemoveAll(path string) error
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	// SyncDir flushes a directory's entries to stable storage: a rename
	// is not durable until its directory is synced.
	SyncDir(name string) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

func (OSFS) CreateTemp(dir, pattern string) (File, error) { return createShared(dir, pattern) }
func (OSFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (OSFS) Open(name string) (io.ReadCloser, error)      { return os.Open(name) }
func (OSFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OSFS) Exchange(path1, path2 string) error           { return exchange(path1, path2) }
func (OSFS) Link(oldpath, newpath string) error           { return os.Link(oldpath, newpath) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }
func (OSFS) RemoveAll(path string) error                  { return os.RemoveAll(path) }
func (OSFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (OSFS) Lstat(name string) (fs.FileInfo, error)       { return os.Lstat(name) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }

func (OSFS) MkdirTemp(dir, pattern string) (string, error) {
	// os.MkdirTemp makes it 0700; a partition is read by warehouse
	// loaders running as other users.
	name, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(name, 0o755); err != nil {
		os.RemoveAll(name)
		return "", err
	}
	return name, nil
}

func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// createShared is os.CreateTemp (a new file named by pattern with its
// last "*" replaced by random digits) but with the permissions of any
// new file, 0666 less the umask, not 0600: reports are read by warehouse
// loaders and analysts, often as other users than the cron job.
func createShared(dir, pattern string) (*os.File, error) {
	prefix, suffix := pattern, ""
	if i := strings.LastIndex(pattern, "*"); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for range 10000 {
		name := filepath.Join(dir, prefix+randomDigits()+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.ErrExist}
}

// randomDigits is what replaces the "*" of a temporary file's pattern.
func randomDigits() string { return strconv.FormatUint(uint64(rand.Uint32()), 10) }

// serialFS keeps the promise that a Set calls its FS one call at a time,
// although its tables' writer goroutines start files and partitions (and
// finish them) concurrently. Files are not serialized: each belongs to
// one goroutine at a time.
type serialFS struct {
	mu sync.Mutex
	fs FS
}

func (s *serialFS) do(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

func serially[T any](s *serialFS, f func() (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

func (s *serialFS) CreateTemp(dir, pattern string) (File, error) {
	return serially(s, func() (File, error) { return s.fs.CreateTemp(dir, pattern) })
}
func (s *serialFS) MkdirTemp(dir, pattern string) (string, error) {
	return serially(s, func() (string, error) { return s.fs.MkdirTemp(dir, pattern) })
}
func (s *serialFS) Open(name string) (io.ReadCloser, error) {
	return serially(s, func() (io.ReadCloser, error) { return s.fs.Open(name) })
}
func (s *serialFS) Stat(name string) (fs.FileInfo, error) {
	return serially(s, func() (fs.FileInfo, error) { return s.fs.Stat(name) })
}
func (s *serialFS) Lstat(name string) (fs.FileInfo, error) {
	return serially(s, func() (fs.FileInfo, error) { return s.fs.Lstat(name) })
}
func (s *serialFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return serially(s, func() ([]fs.DirEntry, error) { return s.fs.ReadDir(name) })
}
func (s *serialFS) MkdirAll(path string, perm fs.FileMode) error {
	return s.do(func() error { return s.fs.MkdirAll(path, perm) })
}
func (s *serialFS) Rename(oldpath, newpath string) error {
	return s.do(func() error { return s.fs.Rename(oldpath, newpath) })
}
func (s *serialFS) Exchange(path1, path2 string) error {
	return s.do(func() error { return s.fs.Exchange(path1, path2) })
}
func (s *serialFS) Link(oldpath, newpath string) error {
	return s.do(func() error { return s.fs.Link(oldpath, newpath) })
}
func (s *serialFS) Remove(name string) error { return s.do(func() error { return s.fs.Remove(name) }) }
func (s *serialFS) RemoveAll(path string) error {
	return s.do(func() error { return s.fs.RemoveAll(path) })
}
func (s *serialFS) SyncDir(name string) error {
	return s.do(func() error { return s.fs.SyncDir(name) })
}
