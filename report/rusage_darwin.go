package report

import "syscall"

// peakRSSBytes reports the process's peak resident set size (getrusage
// ru_maxrss, which macOS gives in bytes), or 0 when unavailable.
func peakRSSBytes() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}
