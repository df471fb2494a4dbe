package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/report/schema"
)

// pageNumbers reads the numbers report.html shows under data-k names.
func pageNumbers(t *testing.T, page string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, m := range regexp.MustCompile(`data-k="([a-z_]+)">([0-9,]+)<`).FindAllStringSubmatch(page, -1) {
		n, err := strconv.ParseInt(strings.ReplaceAll(m[2], ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("%s: %q is not a number", m[1], m[2])
		}
		out[m[1]] = n
	}
	return out
}

// TestHTMLReport: --output html writes report.html beside the tables,
// flat and into a dataset, whose numbers are the run's: the manifest's
// lines and data quality, the keys table's requests and keys, and a
// chart for the key furthest over its plan.
func TestHTMLReport(t *testing.T) {
	for _, mode := range [][]string{nil, {"--partition", "day"}} {
		out := t.TempDir()
		args := append([]string{"analyze", "--quiet", "--limit", "100/min", "--limit", "10/s", "--output", "csv,html", "--out", out}, mode...)
		if code, _, stderr := runKeyrate(t, append(args, sampleDir)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", mode, code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(out, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		var m schema.Manifest
		mb, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err := json.Unmarshal(mb, &m); err != nil {
			t.Fatal(err)
		}
		sums := map[string]int64{}
		keys := map[string]bool{}
		for _, f := range keysCSVs(t, out) {
			for _, r := range readCSV(t, f) {
				for _, col := range []string{"requests", "rejected", "caught", "leaked", "false_throttles"} {
					n, _ := strconv.ParseInt(r[col], 10, 64)
					sums[col] += n
				}
				keys[r["key"]] = true
			}
		}
		if sums["rejected"] == 0 || sums["false_throttles"] == 0 {
			t.Fatalf("%v: the sample has no rejections to show: %v", mode, sums)
		}
		got := pageNumbers(t, page)
		want := map[string]int64{"lines": m.Totals.Lines, "malformed": m.Totals.Malformed, "keyless": m.Totals.Keyless,
			"requests": sums["requests"], "keys": int64(len(keys)), "inputs": int64(len(m.Inputs)),
			// Reconciled once per request: the keys table's columns.
			"excess": sums["rejected"], "caught": sums["caught"], "leaked": sums["leaked"], "false_throttles": sums["false_throttles"]}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%v: the page shows %s %d, the run's tables and manifest %d", mode, k, got[k], v)
			}
		}
		if !strings.Contains(page, `data-key="k_alpha01"`) || !strings.Contains(page, `<svg`) {
			t.Errorf("%v: no chart of k_alpha01, the key furthest over its limits", mode)
		}
		if strings.Contains(page, `src="http`) || !strings.Contains(page, "Content-Security-Policy") {
			t.Errorf("%v: the page loads from the network or has no CSP", mode)
		}
	}
	// The page alone: no tables.
	out := t.TempDir()
	if code, _, stderr := runKeyrate(t, "analyze", "--quiet", "--limit", "100/min", "--output", "html", "--out", out, sampleDir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "manifest.json report.html" {
		t.Errorf("--output html wrote %v, want the manifest and report.html", names)
	}
}

// keysCSVs returns the keys table's CSV files of out, flat or by date.
func keysCSVs(t *testing.T, out string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, "keys.csv")); err == nil {
		return []string{filepath.Join(out, "keys.csv")}
	}
	m, _ := filepath.Glob(filepath.Join(out, "keys", "date=*", "part-0.csv"))
	return m
}
