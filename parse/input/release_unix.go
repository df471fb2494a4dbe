//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package input

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages gives the memory pages wholly inside b back to the system
// (madvise MADV_DONTNEED): they read as zeros if touched again. Only for
// bytes no one will read again; the memory stays the Go heap's, which
// zeroes it anyway before reusing it.
func releasePages(b []byte) {
	page := uintptr(os.Getpagesize())
	if uintptr(len(b)) < page {
		return
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (page - addr%page) % page
	end := start + (uintptr(len(b))-start)/page*page
	if end > start {
		unix.Madvise(b[start:end], unix.MADV_DONTNEED)
	}
}
