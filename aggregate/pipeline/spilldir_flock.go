//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package pipeline

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f, without waiting.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// lockIfDead opens the lock file at path, not following a link, and
// takes its lock: it succeeds only when no live process holds it.
func lockIfDead(path string) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// ownDir reports whether dir is a directory (not a link to one) that
// this user owns: in a shared /tmp, another user's name is not ours to
// remove.
func ownDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
