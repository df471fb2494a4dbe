//go:build unix

package input

import (
	"os"
	"syscall"
)

// fileID identifies a file whatever the path to it.
type fileID struct {
	dev, ino uint64
	path     string // where the system gives no device and inode
}

func identify(path string, st os.FileInfo) fileID {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(sys.Dev), ino: uint64(sys.Ino)}
	}
	return pathID(path)
}
