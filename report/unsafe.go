package report

import (
	"errors"
	"io/fs"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// UnsafePathError refuses a path in the output directory that a run would
// write, truncate, replace or remove, and that is not what keyrate
// makes there: a symbolic link (written through, it would let whoever
// can write to the directory redirect a report, a partition or the lock
// to any file the run may write), or a lock file with other names.
type UnsafePathError struct {
	Path   string
	Reason string // "is a symbolic link", ...
}

func (e *UnsafePathError) Error() string {
	return quotePath(e.Path) + " " + e.Reason + "; keyrate does not write through it: remove it"
}

// refuseLink fails with an *UnsafePathError when path is a symbolic link
// (a dangling one included); a path that does not exist is fine.
func refuseLink(fsys FS, path string) error {
	fi, err := fsys.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafePathError{Path: path, Reason: "is a symbolic link"}
	}
	return nil
}

// quotePath returns path as it can be printed on one line of a log: as
// it is, or Go-quoted when it holds a control or format character (a
// newline in a file name would otherwise forge a line of its own).
func quotePath(path string) string {
	for _, r := range path {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return strconv.Quote(path)
		}
	}
	return path
}
