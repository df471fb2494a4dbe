package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyrate/keyrate/report/schema"
)

// TestAnalyzePolicySpilledIdentically runs the policy end-to-end case
// (per-account limits, which make the evaluator read its sources twice,
// and scoped limits, which read the filtered partial aggregates) once in
// memory and once with a budget so small that every worker spills its
// main and filtered states after each block, through tiny blocks: every
// report must be byte-identical, and the spilled runs must be gone.
func TestAnalyzePolicySpilledIdentically(t *testing.T) {
	dir := writeE2E(t)
	tmp := t.TempDir()
	args := []string{"analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"), "--output", "csv", "--all-windows"}
	inputs := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")}
	if code, _, stderr := runKeyrate(t, append(append(args, "--workers", "1", "--out", filepath.Join(dir, "free")), inputs...)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runKeyrate(t, append(append(args, "--workers", "3", "--memory", "1KiB", "--tmp-dir", tmp,
		"--out", filepath.Join(dir, "tight")), inputs...)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, table := range []string{"violations.csv", "throttle_audit.csv", "keys.csv", "windows.csv"} {
		a, err1 := os.ReadFile(filepath.Join(dir, "free", table))
		b, err2 := os.ReadFile(filepath.Join(dir, "tight", table))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) || len(a) < 100 {
			t.Errorf("%s differs when spilled:\n%s\nvs\n%s", table, a, b)
		}
	}
	var m schema.Manifest
	b, err := os.ReadFile(filepath.Join(dir, "tight", "manifest.json"))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if m.SpilledBytes <= 0 {
		t.Errorf("spilled_bytes %d with --memory 1KiB, want > 0", m.SpilledBytes)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%d entries left in --tmp-dir", len(left))
	}
}
