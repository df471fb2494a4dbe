package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/klauspost/compress/zstd"

	"github.com/keyrate/keyrate/internal/loggen"
	"github.com/keyrate/keyrate/report/schema"
)

// TestMain runs the pipelines on Prism, in this process (ptest's
// default runner), with Beam's flags parsed.
func TestMain(m *testing.M) { ptest.Main(m) }

// archive writes a random archive: plain and gzip'd servers in several
// UTC offsets, and a zstd file of shuffled lines with malformed and
// keyless ones among them.
func archive(t *testing.T, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	spec := loggen.Spec{Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Days: 2,
		Offsets: []int{-300, 0, 60}, Keys: 30, PerSecond: 0.05,
		Heavy: []string{"k_heavy"}, HeavyPerDay: 1500, Bursty: []string{"k_burst"}, BurstSize: 80, Seed: seed}
	if _, err := loggen.Write(filepath.Join(dir, "plain"), spec); err != nil {
		t.Fatal(err)
	}
	spec.Gzip, spec.Seed, spec.Offsets = true, seed+1, []int{120, -60}
	if _, err := loggen.Write(filepath.Join(dir, "gz"), spec); err != nil {
		t.Fatal(err)
	}
	// Out of order, with bad lines: the first plain file shuffled.
	first, err := filepath.Glob(filepath.Join(dir, "plain", "server1", "*"))
	if err != nil || len(first) == 0 {
		t.Fatal("no plain file", err)
	}
	b, err := os.ReadFile(first[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	lines = append(lines, "this is not a log line\n", `10.0.0.1 - - [23/Nov/2026:10:00:00 +0000] "GET /v1/x HTTP/1.1" 200 5 "-" "ua"`+"\n")
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf)
	zw.Write([]byte(strings.Join(lines, "")))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "shuffled.log.zst"), zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// keyrateBinary builds keyrate once per test binary.
func keyrateBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keyrate")
	out, err := exec.Command("go", "build", "-o", bin, "../keyrate").CombinedOutput()
	if err != nil {
		t.Fatalf("go build keyrate: %v\n%s", err, out)
	}
	return bin
}

// tables returns every CSV file under dir (relative path -> its lines,
// sorted): the same bytes once sorted and concatenated.
func tables(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".csv") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines := strings.SplitAfter(string(b), "\n")
		slices.Sort(lines)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = strings.Join(lines, "")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func manifest(t *testing.T, dir string) schema.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m schema.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// compare checks that beam's output in got equals keyrate analyze's in
// want: every CSV table, the rows of every table, the totals, the numbers
// report.html shows.
func compare(t *testing.T, want, got string) {
	t.Helper()
	wt, gt := tables(t, want), tables(t, got)
	if len(wt) == 0 {
		t.Fatal("keyrate analyze wrote no CSV table")
	}
	for name, w := range wt {
		if g, ok := gt[name]; !ok {
			t.Errorf("%s: missing", name)
		} else if g != w {
			t.Errorf("%s: differs (%d bytes, want %d)", name, len(g), len(w))
		}
	}
	for name := range gt {
		if _, ok := wt[name]; !ok {
			t.Errorf("%s: not written by keyrate analyze", name)
		}
	}
	wm, gm := manifest(t, want), manifest(t, got)
	if fmt.Sprint(wm.Totals) != fmt.Sprint(gm.Totals) {
		t.Errorf("totals %+v, want %+v", gm.Totals, wm.Totals)
	}
	if fmt.Sprint(wm.Outputs) != fmt.Sprint(gm.Outputs) {
		t.Errorf("outputs %v, want %v", gm.Outputs, wm.Outputs)
	}
	if fmt.Sprint(wm.BadSamples) != fmt.Sprint(gm.BadSamples) {
		t.Errorf("bad samples %v, want %v", gm.BadSamples, wm.BadSamples)
	}
	if wm.Totals.Malformed == 0 || wm.Totals.Keyless == 0 {
		t.Errorf("the archive has no malformed or keyless lines: %+v", wm.Totals)
	}
	wp, gp := pageNumbers(t, want), pageNumbers(t, got)
	if len(wp) == 0 || fmt.Sprint(wp) != fmt.Sprint(gp) {
		t.Errorf("report.html shows %v, want %v", gp, wp)
	}
}

// pageNumbers reads the numbers dir's report.html shows under data-k
// names (the page's other text names the run: paths, times).
func pageNumbers(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`data-k="([a-z_]+)">([0-9,]+)<`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestSameAsAnalyze: on random archives, keyrate-beam on Prism writes the
// tables and the report.html numbers keyrate analyze writes, flat and as
// a --partition day dataset, with uncompressed files read in many small
// ranges.
func TestSameAsAnalyze(t *testing.T) {
	bin := keyrateBinary(t)
	for _, part := range []string{"none", "day"} {
		t.Run(part, func(t *testing.T) {
			dir := archive(t, 11)
			flags := []string{"--limit", "20/min", "--limit", "400/h", "--max-bad-ratio", "0.5", "--output", "csv,parquet,html", "--partition", part}
			want := filepath.Join(dir, "analyze")
			cmd := exec.Command(bin, append(append([]string{"analyze", "--quiet", "--out", want}, flags...), filepath.Join(dir, "plain"), filepath.Join(dir, "gz"), filepath.Join(dir, "shuffled.log.zst"))...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("keyrate analyze: %v\n%s", err, out)
			}
			got := filepath.Join(dir, "beam")
			var stderr bytes.Buffer
			args := append([]string{"--out", got, "--range-bytes", "4096", "--partial-files", "3",
				"--input", filepath.Join(dir, "plain"), "--input", filepath.Join(dir, "gz", "*", "*.gz"), "--input", filepath.Join(dir, "*.zst")}, flags...)
			if err := run(context.Background(), args, &stderr, &stderr); err != nil {
				t.Fatalf("keyrate-beam: %v\n%s", err, stderr.String())
			}
			compare(t, want, got)
		})
	}
}
