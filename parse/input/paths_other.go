//go:build !unix

package input

import "os"

// fileID identifies a file by its absolute path, where the system gives
// no device and inode (links then go unrecognised).
type fileID struct {
	path string
}

func identify(path string, _ os.FileInfo) fileID { return pathID(path) }
