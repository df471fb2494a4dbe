//go:build unix

package report

import (
	"io/fs"
	"syscall"
)

// fileID is the inode number of the file fi describes. A rename keeps
// it, so a commit's journal names each staged file or partition by it:
// after a crash, the final name holding that inode says the step was
// done.
func fileID(fi fs.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Ino), true
}
