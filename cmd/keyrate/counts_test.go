package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The quick start's three violation counts agree: the summary line's
// violations=N, the manifest's rows of the violations table and the sum
// of keys.violations; and every violations row is a bucket in which
// the plan rejected requests.
func TestViolationCountsAgree(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runKeyrate(t, append(append([]string{"analyze", "--out", out}, sampleArgs...), sampleDir)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`violations=(\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line:\n%s", stderr)
	}
	summary, _ := strconv.Atoi(m[1])
	var man struct {
		Outputs map[string]int `json:"outputs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, r := range readCSV(t, filepath.Join(out, "keys.csv")) {
		n, _ := strconv.Atoi(r["violations"])
		keys += n
	}
	rows := readCSV(t, filepath.Join(out, "violations.csv"))
	if summary == 0 || summary != man.Outputs["violations"] || summary != keys || summary != len(rows) {
		t.Errorf("summary %d, manifest %d, keys %d, rows %d", summary, man.Outputs["violations"], keys, len(rows))
	}
	for _, r := range rows {
		if r["excess"] == "0" {
			t.Errorf("a violation without excess: %v", r)
		}
	}
}
