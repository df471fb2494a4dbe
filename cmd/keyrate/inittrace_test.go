package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestPackageInitsStayCheap runs this test binary again with
// GODEBUG=inittrace=1 and bounds the allocations of keyrate's own package
// initialisers: every process start pays them, `keyrate --version`
// included (issue 21: ≤ 10 ms), so schemas and regexps a run may never
// use are built on first use. The bounds are a ratchet: lower them when
// an initialiser gets cheaper.
func TestPackageInitsStayCheap(t *testing.T) {
	if os.Getenv("KEYRATE_INITTRACE_CHILD") != "" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "KEYRATE_INITTRACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	maxAllocs := map[string]int{
		"github.com/keyrate/keyrate/aggregate":        8, // partialsSchema is lazy
		"github.com/keyrate/keyrate/aggregate/policy": 32,
		"github.com/keyrate/keyrate/report":           32,
		"github.com/keyrate/keyrate/parse":            300, // its format tables are maps
	}
	line := regexp.MustCompile(`(?m)^init (\S+) @.* (\d+) allocs$`)
	seen := 0
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		bound, ok := maxAllocs[m[1]]
		if !ok {
			continue
		}
		seen++
		if n, _ := strconv.Atoi(m[2]); n > bound {
			t.Errorf("init of %s makes %d allocations, want at most %d: build what a run may not need on first use", m[1], n, bound)
		}
	}
	if seen == 0 {
		t.Fatalf("no inittrace lines for keyrate's packages in:\n%s", out)
	}
}
