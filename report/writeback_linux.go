package report

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n bytes of f from
// off to disk, without waiting for them (sync_file_range's
// SYNC_FILE_RANGE_WRITE); the fsync that makes f durable then finds most
// of them written. A file that is not an operating system file, or a
// file system that refuses, is left to the fsync. It reports whether the
// kernel took the request.
func startWriteback(f File, off, n int64) bool {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		werr = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}); err != nil {
		return false
	}
	return werr == nil
}
