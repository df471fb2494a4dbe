//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package input

// releasePages does nothing where madvise is not available: the buffers
// a long line outgrew stay resident until the runtime returns them.
func releasePages([]byte) {}
