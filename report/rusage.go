//go:build linux || freebsd || netbsd || openbsd || dragonfly

package report

import "syscall"

// peakRSSBytes reports the process's peak resident set size (getrusage
// ru_maxrss, which these systems give in KiB), or 0 when unavailable.
func peakRSSBytes() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}
