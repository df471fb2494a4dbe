package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyLine is one combined-format line of key at ts (as nginx writes it,
// "02/Jan/2006:15:04:05").
func keyLine(ts, key string) string {
	return "10.0.0.1 - - [" + ts + " +0000] \"GET /x?api_key=" + key + " HTTP/1.1\" 200 5 \"-\" \"t\"\n"
}

// datasetDates lists the dates of table's partitions in out.
func datasetDates(t *testing.T, out, table string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(out, table, "date=*"))
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, p := range m {
		ds = append(ds, strings.TrimPrefix(filepath.Base(p), "date="))
	}
	return ds
}

// manifestOutputs is the manifest's count of rows per table.
func manifestOutputs(t *testing.T, out string) map[string]int64 {
	t.Helper()
	var m struct {
		Outputs map[string]int64 `json:"outputs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Outputs
}

// One line stamped 01/Jan/0001 (Go's zero time) among a night's lines
// (issue 20, item 7): the dataset run succeeds (it failed, writing and
// expiring the year-1 date's checkpoint in one commit), its manifest
// counts the rows its partitions hold, and running the night again
// changes no partition.
func TestDatasetZeroTimeLine(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	for i := range 30 {
		log.WriteString(keyLine(fmt.Sprintf("24/Nov/2026:10:00:%02d", i), "k_burst"))
	}
	log.WriteString(keyLine("01/Jan/0001:00:00:00", "k_zero"))
	in := filepath.Join(dir, "night.log")
	os.WriteFile(in, []byte(log.String()), 0o644)
	out := filepath.Join(dir, "out")
	args := []string{"analyze", "--quiet", "--partition", "day", "--output", "csv", "--limit", "10/min", "--out", out, in}
	if code, _, stderr := runKeyrate(t, args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, want := datasetDates(t, out, "violations"), []string{"0001-01-01", "2026-11-24"}; !slices.Equal(got, want) {
		t.Errorf("violations partitions %v, want %v", got, want)
	}
	rows := len(readCSVRows(t, filepath.Join(out, "violations"), "k_burst"))
	if n := manifestOutputs(t, out)["violations"]; rows != 1 || n != int64(rows) {
		t.Errorf("%d violation rows, the manifest says %d; want 1", rows, n)
	}
	first := datasetFiles(t, out)
	if code, _, stderr := runKeyrate(t, args...); code != 0 {
		t.Fatalf("again: exit %d: %s", code, stderr)
	}
	if again := datasetFiles(t, out); !maps.EqualFunc(again, first, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("running the night again changed the partitions")
	}
}

// Lines years apart in one dataset run (issue 20, items 7 and 15): a
// first run over more than --retain-days of logs writes every date's
// reports, stores the partials of the dates within the retention only,
// and costs what its dates with rows do: lines stamped 0001 and 9998 are
// 3.65 million dates apart.
func TestDatasetDatesFarApart(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		stamps   []string
		dates    []string
		partials []string
	}{
		{"two months", []string{"01/Sep/2026:10:00:00", "24/Nov/2026:10:00:00"},
			[]string{"2026-09-01", "2026-11-24"}, []string{"2026-11-24"}},
		{"years 1 and 9998", []string{"01/Jan/0001:00:00:00", "24/Nov/2026:10:00:00", "31/Dec/9998:23:59:59"},
			// Retention counts back from the newest date not in the
			// future: 9998 is kept, and does not expire 2026.
			[]string{"0001-01-01", "2026-11-24", "9998-12-31"}, []string{"2026-11-24", "9998-12-31"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log strings.Builder
			for _, s := range c.stamps {
				log.WriteString(keyLine(s, "k1"))
			}
			in := filepath.Join(dir, c.name+".log")
			os.WriteFile(in, []byte(log.String()), 0o644)
			out := filepath.Join(dir, c.name)
			start := time.Now()
			code, _, stderr := runKeyrate(t, "analyze", "--quiet", "--partition", "day", "--limit", "10/min", "--out", out, in)
			if took := time.Since(start); code != 0 || took > 10*time.Second {
				t.Fatalf("exit %d after %v: %s", code, took, stderr)
			}
			for _, table := range []string{"windows", "violations", "keys", "throttle_audit", "usage"} {
				if got := datasetDates(t, out, table); !slices.Equal(got, c.dates) {
					t.Errorf("%s partitions %v, want %v", table, got, c.dates)
				}
			}
			if got := datasetDates(t, out, "partials"); !slices.Equal(got, c.partials) {
				t.Errorf("partials of %v, want %v (within the retention)", got, c.partials)
			}
			cps, _ := filepath.Glob(filepath.Join(out, "_keyrate", "state", "*"))
			if len(cps) > len(c.partials) {
				t.Errorf("checkpoints %v, want at most one per date with partials", cps)
			}
		})
	}
}
