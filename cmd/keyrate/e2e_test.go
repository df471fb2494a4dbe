package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

var update = flag.Bool("update", false, "rewrite golden files from the current output")

// sampleArgs is the README's example run over testdata/sample.
var sampleArgs = []string{"--limit", "100/min", "--limit", "10/s"}

const sampleDir = "../../testdata/sample"

var tables = []string{"windows", "violations", "keys", "false_throttles"}

// runKeyrate runs keyrate in-process and returns its exit code and output.
func runKeyrate(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func analyzeInto(t *testing.T, dir string, inputs ...string) {
	t.Helper()
	args := append([]string{"analyze", "--out", dir}, sampleArgs...)
	code, _, stderr := runKeyrate(t, append(args, inputs...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestGoldenSample runs the README example and compares every CSV with
// testdata/golden; `go test ./cmd/keyrate -update` rewrites them.
func TestGoldenSample(t *testing.T) {
	dir := t.TempDir()
	analyzeInto(t, dir, sampleDir)
	for _, name := range tables {
		got, err := os.ReadFile(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("..", "..", "testdata", "golden", name+".csv")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.csv differs from %s at %s", name, golden, firstDiff(got, want))
		}
	}
}

// firstDiff locates the first differing byte as line:column.
func firstDiff(a, b []byte) string {
	line, col := 1, 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("%d:%d", line, col)
		}
		col++
		if a[i] == '\n' {
			line, col = line+1, 1
		}
	}
	return fmt.Sprintf("%d:%d (one is a prefix of the other)", line, col)
}

// readSampleLines returns every line of the sample archive, decompressed.
func readSampleLines(t *testing.T) []string {
	t.Helper()
	paths, _, err := input.ExpandPaths([]string{sampleDir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var opener input.Opener
	defer opener.Close()
	for _, p := range paths {
		in, err := opener.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		lr := input.NewLineReader(in, 0)
		for {
			b, err := lr.Next()
			if err != nil {
				break
			}
			lines = append(lines, string(b))
		}
		in.Close()
	}
	return lines
}

func writeCompressed(t *testing.T, path, kind string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	switch kind {
	case "gzip":
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
	case "zstd":
		zw, _ := zstd.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
	default:
		buf.Write(data)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResultsIndependentOfLineAndFileOrder reshuffles the sample's lines
// over a random number of files with random compression and checks that
// every report is byte-identical to the original run's.
func TestResultsIndependentOfLineAndFileOrder(t *testing.T) {
	ref := t.TempDir()
	analyzeInto(t, ref, sampleDir)
	lines := readSampleLines(t)
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 99))
		r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		nfiles := 1 + r.IntN(6)
		in := writeParts(t, r, lines, nfiles)
		out := t.TempDir()
		analyzeInto(t, out, "--workers", fmt.Sprint(1+r.IntN(3)), in)
		sameReports(t, ref, out, fmt.Sprintf("seed %d (%d files)", seed, nfiles))
	}
}

// TestResultsIndependentOfServerInterleaving deals the sample's lines, in
// time order, to several servers' logs of the same hours, some of which
// write a request a few seconds out of order (stamped at its start,
// logged at its end). A worker then reads blocks of several overlapping
// files, and within a file times go back a little: the aggregate keeps
// twins of some (key, second) cells (about 1,400 over this test's runs)
// and looks others up among a block's own cells. Every report must still
// equal the original run's. (These limits would add unsummed twins up
// correctly too; TestStateOverlappingStreams and the pipeline property
// tests check the sums point by point.)
func TestResultsIndependentOfServerInterleaving(t *testing.T) {
	ref := t.TempDir()
	analyzeInto(t, ref, sampleDir)
	lines := readSampleLines(t)
	times := make([]int64, len(lines))
	var rec parse.Record
	p := parse.NewCombined()
	for i, l := range lines {
		if p.Parse([]byte(l), &rec) == nil {
			times[i] = rec.TimeMillis
		} else if i > 0 {
			times[i] = times[i-1] // a malformed line stays where it was
		}
	}
	order := make([]int, len(lines))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(times[a], times[b]) })
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 7))
		servers := 2 + r.IntN(4)
		dealt := make([][]string, servers)
		for _, i := range order {
			s := r.IntN(servers)
			dealt[s] = append(dealt[s], lines[i])
		}
		for s, d := range dealt {
			if s%2 == 1 { // this server logs requests as they end
				for a := 0; a+1 < len(d); a++ {
					if r.IntN(3) == 0 {
						d[a], d[a+1] = d[a+1], d[a]
					}
				}
			}
		}
		in := t.TempDir()
		for s, d := range dealt {
			kind := []string{"plain", "gzip", "zstd"}[r.IntN(3)]
			writeCompressed(t, filepath.Join(in, fmt.Sprintf("server-%d", s)), kind, []byte(strings.Join(d, "\n")+"\n"))
		}
		for _, workers := range []string{"1", "2"} {
			out := t.TempDir()
			analyzeInto(t, out, "--workers", workers, in)
			sameReports(t, ref, out, fmt.Sprintf("seed %d (%d servers, --workers %s)", seed, servers, workers))
		}
	}
}

// writeParts deals lines round-robin into nfiles files of random
// compression in a new directory, which it returns.
func writeParts(t *testing.T, r *rand.Rand, lines []string, nfiles int) string {
	t.Helper()
	in := t.TempDir()
	for f := range nfiles {
		var part []string
		for i := f; i < len(lines); i += nfiles {
			part = append(part, lines[i])
		}
		kind := []string{"plain", "gzip", "zstd"}[r.IntN(3)]
		writeCompressed(t, filepath.Join(in, fmt.Sprintf("part-%d", f)), kind, []byte(strings.Join(part, "\n")+"\n"))
	}
	return in
}

// sameReports requires every CSV and Parquet report in out to equal ref's.
func sameReports(t *testing.T, ref, out, label string) {
	t.Helper()
	for _, name := range tables {
		for _, ext := range []string{".csv", ".parquet"} {
			a, _ := os.ReadFile(filepath.Join(ref, name+ext))
			b, _ := os.ReadFile(filepath.Join(out, name+ext))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: %s%s differs from the original run", label, name, ext)
			}
		}
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	tmp := t.TempDir()
	corrupt := filepath.Join(tmp, "corrupt.log.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("192.0.2.1 - - [23/Nov/2026:10:00:00 +0000] \"GET /?api_key=k HTTP/1.1\" 200 1\n"), 2000))
	zw.Close()
	os.WriteFile(corrupt, gz.Bytes()[:gz.Len()/2], 0o644)
	garbage := filepath.Join(tmp, "garbage.log")
	os.WriteFile(garbage, []byte("not a log line\nnor this\n192.0.2.1 - - [23/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n"), 0o644)

	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string // substring
		noReport bool
	}{
		{"no command", nil, 2, "no command", true},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`, true},
		{"unknown flag", []string{"analyze", "--bogus", sampleDir}, 2, "unknown flag: --bogus", true},
		{"bad limit", []string{"analyze", "--limit", "10/fortnight", sampleDir}, 2, `unknown unit "fortnight"`, true},
		{"bad key source", []string{"analyze", "--key", "query:", sampleDir}, 2, `key source "query:"`, true},
		{"no input", []string{"analyze"}, 2, "no input", true},
		{"bad output format", []string{"analyze", "--output", "xlsx", sampleDir}, 2, `"xlsx"`, true},
		{"missing file", []string{"analyze", filepath.Join(tmp, "nope.log")}, 1, "nope.log", true},
		{"unknown format names the file and its first line", []string{"analyze", garbage}, 1, garbage + `: no known log format matches; first line: "not a log line"`, true},
		{"corrupt gzip names the file and offset", []string{"analyze", corrupt}, 1, corrupt + ": corrupt gzip stream near byte offset", true},
		// --format: auto-detection refuses a file most of whose lines
		// match no format (tested in parse); the ratio applies once a
		// format is given.
		{"malformed ratio exceeded", []string{"analyze", "--format", "combined", garbage}, 3, "2 of 3 lines malformed", true},
		{"malformed ratio allowed", []string{"analyze", "--format", "combined", "--max-bad-ratio", "0.7", garbage}, 0, "garbage.log:1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := tc.args
			if len(args) > 0 && args[0] == "analyze" {
				args = append([]string{"analyze", "--out", out}, args[1:]...)
			}
			code, _, stderr := runKeyrate(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.stderr)
			}
			_, err := os.Stat(filepath.Join(out, "manifest.json"))
			if tc.noReport != os.IsNotExist(err) {
				t.Errorf("report written: %v, want %v", err == nil, !tc.noReport)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runKeyrate(t, "--help")
	if code != 0 || !strings.Contains(out, "keyrate analyze") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	code, out, _ = runKeyrate(t, "analyze", "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--limit") {
		t.Errorf("analyze --help: exit %d, %q", code, out)
	}
	code, out, _ = runKeyrate(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "keyrate ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

// TestInputsReachedTwiceCountOnce: a file reached again, by a glob over a
// directory already named or by a link to that directory, is read once,
// and what was left out is warned about and listed in the manifest.
func TestInputsReachedTwiceCountOnce(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "sample-link")
	abs, err := filepath.Abs(sampleDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	ref, out := filepath.Join(dir, "ref"), filepath.Join(dir, "out")
	analyzeInto(t, ref, sampleDir)
	args := append([]string{"analyze", "--out", out}, sampleArgs...)
	code, _, stderr := runKeyrate(t, append(args, sampleDir, filepath.Join(sampleDir, "*"), link)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameReports(t, ref, out, "sample named three ways")
	m := readManifestMap(t, out)
	files, _ := os.ReadDir(sampleDir)
	if skipped := m["skipped_paths"].([]any); len(skipped) != len(files)+1 {
		t.Errorf("skipped_paths %v, want each of the %d files once and the link", skipped, len(files))
	}
	if n := strings.Count(stderr, "not read"); n != len(files)+1 {
		t.Errorf("%d warnings, want %d:\n%s", n, len(files)+1, stderr)
	}
}
