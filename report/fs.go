package report

import (
	"io"
	"os"
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

func (OSFS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }
func (OSFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OSFS) Link(oldpath, newpath string) error           { return os.Link(oldpath, newpath) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }
