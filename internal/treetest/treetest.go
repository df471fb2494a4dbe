// Package treetest compares directory trees in tests: maps of a path
// to its content.
package treetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Diff describes how got differs from want (paths missing, differing or
// extra, the first 8), for an error message; "" when they are equal.
func Diff(got, want map[string]string) string {
	var d []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != want[k] {
			d = append(d, "differs "+k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			d = append(d, "extra "+k)
		}
	}
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("... %d more", len(d)-8))
	}
	return strings.Join(d, ", ")
}
