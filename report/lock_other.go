//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package report

import "os"

// tryLock is a no-op where flock(2) is unavailable: the lock file still
// names the last run, but two runs are not kept apart.
func tryLock(f *os.File) (held bool, err error) { return false, nil }

// oNoFollow is 0 where open has no O_NOFOLLOW: LockDir checks the path
// with Lstat instead.
const oNoFollow = 0

func linkCount(os.FileInfo) uint64 { return 1 }
