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
)

// File is one report file being written.
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// FS is the file system a Set writes through. The default is the
// operating system's; tests inject faults (a full disk, a vanishing
// directory, a failing rename) by wrapping it. A Set calls its methods
// one at a time, but the tables' writer goroutines write their Files
// concurrently, each File from one goroutine at a time.
type FS interface {
	// CreateTemp creates a new file as os.CreateTemp does.
	CreateTemp(dir, pattern string) (File, error)
	Rename(oldpath, newpath string) error
	Link(oldpath, newpath string) error
	Remove(name string) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

func (OSFS) CreateTemp(dir, pattern string) (File, error) { return createShared(dir, pattern) }
func (OSFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OSFS) Link(oldpath, newpath string) error           { return os.Link(oldpath, newpath) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }

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

// randomDigits is what replaces the "*" of a temporary file's pattern:
// digits, which Recover's pattern for leftovers expects.
func randomDigits() string { return strconv.FormatUint(uint64(rand.Uint32()), 10) }
