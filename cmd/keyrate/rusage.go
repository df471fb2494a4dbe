package main

import (
	"runtime/debug"
	"syscall"
)

// peakRSSBytes reports the process's peak resident set size (getrusage
// ru_maxrss, which Linux gives in KiB), or 0 when unavailable.
func peakRSSBytes() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

// setMemoryLimit makes the Go runtime collect garbage harder as the heap
// nears the --memory budget (plus room for the runtime and report
// writers), so peak RSS tracks the budget rather than twice the live heap.
func setMemoryLimit(budget int64) {
	if budget > 0 {
		debug.SetMemoryLimit(budget + budget/4 + 32<<20)
	}
}
