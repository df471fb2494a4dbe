package report

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the n bytes of f from
// off to disk, without waiting for them (sync_file_range's
// SYNC_FILE_RANGE_WRITE); the fsync that makes f durable then finds most
// of them written. A file that is not an operating system file, or a
// file system that refuses, is left to the fsync.
func startWriteback(f File, off, n int64) {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
}
