//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package report

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting; held reports
// that another open file description has it.
func tryLock(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// oNoFollow makes an open fail (ELOOP) on a symbolic link instead of
// following it.
const oNoFollow = syscall.O_NOFOLLOW

// linkCount is how many names fi's file has (1 where unknown).
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
