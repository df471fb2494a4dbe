package main

import "runtime/debug"

// setMemoryLimit makes the Go runtime collect garbage harder as the heap
// nears the --memory budget (plus room for the runtime and report
// writers), so peak RSS tracks the budget rather than twice the live heap.
func setMemoryLimit(budget int64) {
	if budget > 0 {
		debug.SetMemoryLimit(budget + budget/4 + 32<<20)
	}
}
