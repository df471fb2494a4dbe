package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/internal/loggen"
	"github.com/keyrate/keyrate/report/dataset"
)

// The nightly dataset's rule (issue "Nightly runs that add up"): after
// any sequence of runs, every date partition of every table is exactly
// what one run over all the inputs read so far would write.

// nightlyPolicy has every algorithm, a monthly quota that only adds up
// over several nights (below the weekly one: the plan is one gateway, so
// what the weekly limit refuses never reaches the monthly count), limits
// whose windows straddle midnight, a scoped limit (request classes) and
// per-account limits.
const nightlyPolicy = `
default_plan = "std"

[plans.std]
limits = [
  { name = "per-minute", algorithm = "fixed",        limit = 40,   window = "1m" },
  { name = "rolling",    algorithm = "sliding",      limit = 60,   window = "2m" },
  { name = "burst",      algorithm = "token-bucket", rate = 1.0,   burst = 20 },
  { name = "nginx",      algorithm = "leaky-bucket", rate = "30r/m", burst = 10 },
  { name = "daily",      algorithm = "fixed",        limit = 1500, window = "day" },
  { name = "weekly",     algorithm = "fixed",        limit = 6000, window = "week" },
  { name = "monthly",    algorithm = "fixed",        limit = 5000, window = "month" },
  { name = "search",     algorithm = "fixed",        limit = 5,    window = "1m", paths = ["/v1/search"] },
]

# An account whose keys share limits across plans.
[plans.team]
limits = [
  { name = "per-minute",     algorithm = "fixed",        limit = 40,   window = "1m" },
  { name = "account-hourly", algorithm = "fixed",        limit = 300,  window = "1h",  per = "account" },
  { name = "account-rolling", algorithm = "sliding",     limit = 150,  window = "30m", per = "account" },
  { name = "account-bucket", algorithm = "token-bucket", rate = 0.5,   burst = 60,     per = "account" },
]

[keys]
"k1"      = { plan = "team", account = "acme" }
"k2"      = { plan = "team", account = "acme" }
"k_burst" = { plan = "std",  account = "acme" }
`

// nightlyArchive writes a week of three servers' logs, rotated at local
// midnight in UTC-5, UTC and UTC+1, gzip'd, with a heavy key that
// exhausts its monthly quota over the week and a key that bursts across
// every UTC midnight.
func nightlyArchive(t *testing.T, seed uint64) (dir string, nights [][]loggen.File) {
	t.Helper()
	dir = t.TempDir()
	nights, err := loggen.Write(filepath.Join(dir, "logs"), loggen.Spec{
		Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Days: 7,
		Offsets: []int{-300, 0, 60}, Keys: 40, PerSecond: 0.02,
		Heavy: []string{"k_heavy"}, HeavyPerDay: 1800,
		Bursty: []string{"k_burst"}, BurstSize: 120,
		Gzip: true, Seed: seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plans.toml"), []byte(nightlyPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, nights
}

func paths(files []loggen.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

// nightlyRun runs one partitioned analysis into out and fails the test on
// a non-zero exit.
func nightlyRun(t *testing.T, dir, out string, inputs ...string) string {
	t.Helper()
	args := append([]string{"analyze", "--quiet", "--partition", "day", "--policy", filepath.Join(dir, "plans.toml"),
		"--out", out}, inputs...)
	code, _, stderr := runKeyrate(t, args...)
	if code != 0 {
		t.Fatalf("keyrate %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stderr
}

// datasetFiles returns every table and partial file of a dataset (the
// date partitions), relative to out, with their bytes. The manifest,
// which describes a run, and the ledger, which records when inputs were
// read, are not part of the rule.
func datasetFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "_keyrate" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.Contains(rel, "date=") {
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameDataset fails unless got holds exactly want's partitions, byte for
// byte.
func sameDataset(t *testing.T, got, want string) {
	t.Helper()
	g, w := datasetFiles(t, got), datasetFiles(t, want)
	if len(w) == 0 {
		t.Fatalf("%s holds no partition", want)
	}
	var names []string
	for n := range w {
		names = append(names, n)
	}
	for n := range g {
		if _, ok := w[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	bad := 0
	for _, n := range names {
		gb, gok := g[n]
		wb, wok := w[n]
		switch {
		case !gok:
			t.Errorf("%s: missing (the run over everything wrote it)", n)
		case !wok:
			t.Errorf("%s: extra (the run over everything did not write it)", n)
		case !bytes.Equal(gb, wb):
			t.Errorf("%s: differs from the run over everything (%d vs %d bytes)%s", n, len(gb), len(wb), csvLineDiff(n, gb, wb))
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// csvLineDiff shows the first line where two CSV files differ.
func csvLineDiff(name string, got, want []byte) string {
	if !strings.HasSuffix(name, ".csv") {
		return ""
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf(": line %d\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf(": %d lines, want %d", len(g), len(w))
}

// TestNightlyWeekEqualsOneRun: seven nightly runs, each over the files
// rotated that night, give the dataset of one run over the week.
func TestNightlyWeekEqualsOneRun(t *testing.T) {
	dir, nights := nightlyArchive(t, 1)
	once, nightly := filepath.Join(dir, "once"), filepath.Join(dir, "nightly")
	var all []string
	for _, files := range nights {
		all = append(all, paths(files)...)
		nightlyRun(t, dir, nightly, paths(files)...)
	}
	nightlyRun(t, dir, once, all...)
	sameDataset(t, nightly, once)

	// The monthly quota is exhausted over the week: the one run and the
	// nightly dataset both report it (on the dates it happened).
	v := readCSVRows(t, filepath.Join(nightly, "violations"), "monthly")
	if len(v) == 0 {
		t.Fatal("no monthly violation in the nightly dataset: the quota never adds up")
	}
	if a := readCSVRows(t, filepath.Join(nightly, "violations"), "acme"); len(a) == 0 {
		t.Error("no violation of the account's limits: the test does not exercise accounts")
	}
}

// readCSVRows returns the CSV rows under dir's partitions that mention
// needle.
func readCSVRows(t *testing.T, dir, needle string) []string {
	t.Helper()
	var rows []string
	matches, _ := filepath.Glob(filepath.Join(dir, "date=*", "part-0.csv"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, needle) {
				rows = append(rows, line)
			}
		}
	}
	return rows
}

// TestNightlyRunsInAnyOrder: the nights arrive shuffled, one night is run
// twice, one night's files arrive again under another name and
// compression (logrotate's delaycompress), a late file arrives nights
// after its date, and one server's live log is read while it grows: the
// dataset is still the one run over every distinct content.
func TestNightlyRunsInAnyOrder(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		dir, nights := nightlyArchive(t, seed)
		rng := rand.New(rand.NewPCG(seed, 9))
		once, nightly := filepath.Join(dir, "once"), filepath.Join(dir, "nightly")
		var all []string
		for _, files := range nights {
			all = append(all, paths(files)...)
		}
		order := rng.Perm(len(nights))
		// Hold one server's file of the first night back until the end.
		late := nights[order[0]][len(nights[order[0]])-1]
		for i, n := range order {
			var inputs []string
			for _, f := range nights[n] {
				if f.Path != late.Path {
					inputs = append(inputs, f.Path)
				}
			}
			if i == 1 {
				// The night's first file read live, half written, before
				// it is rotated and compressed: the rotated file then
				// replaces that reading (the dataset takes the half back).
				live := halfCopy(t, nights[n][0].Path, filepath.Join(dir, "early"))
				nightlyRun(t, dir, nightly, live)
			}
			nightlyRun(t, dir, nightly, inputs...)
			if i == 2 {
				nightlyRun(t, dir, nightly, inputs...) // a night run twice
			}
			if i == 3 {
				// Yesterday's files again, as access.log.2 (decompressed):
				// the same content under another name and compression.
				again := decompressCopy(t, nights[order[i-1]][0].Path, filepath.Join(dir, "again"))
				nightlyRun(t, dir, nightly, again)
			}
		}
		// A copy of a file read nights ago, cut at half (the start of
		// what was read) and then whole again (the same content).
		grown := halfCopy(t, nights[order[1]][1].Path, filepath.Join(dir, "live"))
		nightlyRun(t, dir, nightly, grown)
		decompressCopy(t, nights[order[1]][1].Path, filepath.Join(dir, "live"))
		nightlyRun(t, dir, nightly, grown)
		nightlyRun(t, dir, nightly, late.Path) // the late file

		nightlyRun(t, dir, once, all...)
		sameDataset(t, nightly, once)
		if t.Failed() {
			t.Fatalf("seed %d, night order %v", seed, order)
		}
	}
}

// halfCopy writes the first half of gzip file src's lines, decompressed,
// into dir (as decompressCopy names it) and returns its path.
func halfCopy(t *testing.T, src, dir string) string {
	t.Helper()
	p := decompressCopy(t, src, dir)
	full, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.LastIndexByte(full[:len(full)/2], '\n') + 1
	if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// decompressCopy writes the gzip file src, decompressed, into dir under a
// new name, and returns its path.
func decompressCopy(t *testing.T, src, dir string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(filepath.Dir(src))+"-"+filepath.Base(src), ".gz"))
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestDatasetForget: inputs read by mistake are taken back: the dataset
// is then the one run over the other inputs, a date only they had is
// gone, and they are no longer in the ledger; a name that matches no
// input is a usage error.
func TestDatasetForget(t *testing.T) {
	dir, nights := nightlyArchive(t, 4)
	nightly, once := filepath.Join(dir, "nightly"), filepath.Join(dir, "once")
	var kept []string
	for i, files := range nights[:4] {
		nightlyRun(t, dir, nightly, paths(files)...)
		if i != 3 {
			kept = append(kept, paths(files)...)
		}
	}
	// Forget the last night, one file by path and the others by ID.
	ledger := readLedger(t, nightly)
	args := []string{"dataset", "forget", "--quiet", "--policy", filepath.Join(dir, "plans.toml"), nightly, nights[3][0].Path}
	for _, f := range nights[3][1:] {
		for _, e := range ledger.Entries {
			if e.Path == f.Path {
				args = append(args, e.ID[:10])
			}
		}
	}
	if code, _, stderr := runKeyrate(t, args...); code != 0 {
		t.Fatalf("keyrate %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	nightlyRun(t, dir, once, kept...)
	sameDataset(t, nightly, once)
	if got := len(readLedger(t, nightly).Entries); got != len(kept) {
		t.Errorf("%d inputs in the ledger, want %d", got, len(kept))
	}
	code, _, stderr := runKeyrate(t, "dataset", "forget", "--policy", filepath.Join(dir, "plans.toml"), nightly, "/no/such/input")
	if code != 2 || !strings.Contains(stderr, "no such input in the dataset") {
		t.Errorf("forgetting an unknown input: exit %d, %s", code, stderr)
	}
}

func readLedger(t *testing.T, out string) dataset.Ledger {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(dataset.LedgerFile)))
	if err != nil {
		t.Fatal(err)
	}
	var l dataset.Ledger
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestREADMECronLine runs the README's crontab line, as sh would, over
// two nights of one server rotated as logrotate does with compress and
// delaycompress (access.log live, access.log.1, access.log.2.gz): the
// dataset is then the one run over the distinct logs, and the line
// prints nothing.
func TestREADMECronLine(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the crontab line with")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(readme), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "15 3 * * * keyrate analyze") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("README has no crontab line")
	}
	command := strings.SplitN(line, " ", 6)[5]
	bin := buildKeyrate(t)
	dir, nights := nightlyArchive(t, 5)
	days := make([][]byte, 3)
	for i := range days {
		days[i] = gunzip(t, nights[i][0].Path) // server 1's days
	}
	logs, out, etc := filepath.Join(dir, "nginx"), filepath.Join(dir, "warehouse"), filepath.Join(dir, "etc")
	for _, d := range []string{logs, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(etc, "plans.toml"), []byte(nightlyPolicy))
	writeFile(t, filepath.Join(etc, "secret"), []byte("a-secret-of-at-least-16-bytes\n"))
	for k, v := range map[string]string{
		"/etc/keyrate/plans.toml": filepath.Join(etc, "plans.toml"), "/etc/keyrate/secret": filepath.Join(etc, "secret"),
		"/warehouse/keyrate": out, "/var/log/nginx/": logs + "/", "/var/log/keyrate.jsonl": filepath.Join(dir, "keyrate.jsonl"),
	} {
		command = strings.ReplaceAll(command, k, v)
	}
	cron := func() {
		t.Helper()
		cmd := exec.Command("sh", "-c", command)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		got, err := cmd.CombinedOutput()
		if err != nil || len(got) != 0 {
			jsonl, _ := os.ReadFile(filepath.Join(dir, "keyrate.jsonl"))
			t.Fatalf("the crontab line printed %q (%v); keyrate.jsonl:\n%s", got, err, jsonl)
		}
	}
	half := func(b []byte) []byte { return b[:bytes.LastIndexByte(b[:len(b)/2], '\n')+1] }
	// Night 1: yesterday's log rotated, today's live and half written.
	writeFile(t, filepath.Join(logs, "access.log.1"), days[0])
	writeFile(t, filepath.Join(logs, "access.log"), half(days[1]))
	cron()
	// Night 2: rotated again: the first compressed, the live one whole.
	gz := filepath.Join(logs, "access.log.2.gz")
	writeFile(t, gz, gzipBytes(t, days[0]))
	writeFile(t, filepath.Join(logs, "access.log.1"), days[1])
	writeFile(t, filepath.Join(logs, "access.log"), half(days[2]))
	cron()

	expect := filepath.Join(dir, "expect")
	writeFile(t, filepath.Join(expect, "a"), days[0])
	writeFile(t, filepath.Join(expect, "b"), days[1])
	writeFile(t, filepath.Join(expect, "c"), half(days[2]))
	once := filepath.Join(dir, "once")
	t.Setenv("KEYRATE_KEY_SECRET", "")
	args := []string{"analyze", "--quiet", "--partition", "day", "--policy", filepath.Join(etc, "plans.toml"), "--key-display", "hmac",
		"--key-secret-file", filepath.Join(etc, "secret"), "--out", once, filepath.Join(expect, "a"), filepath.Join(expect, "b"), filepath.Join(expect, "c")}
	if code, _, stderr := runKeyrate(t, args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameDataset(t, out, once)
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes b to path, making its directory.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDatasetDamagedInputReadAgain: a truncated gzip file read with
// --skip-corrupt (its readable start counted) is known again the next
// night, by what can be read of it: skipped, not a failed run, not counted
// twice.
func TestDatasetDamagedInputReadAgain(t *testing.T) {
	dir, nights := nightlyArchive(t, 6)
	full, err := os.ReadFile(nights[0][0].Path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "truncated.log.gz")
	writeFile(t, cut, full[:len(full)*2/3])
	out := filepath.Join(dir, "out")
	run := func() string {
		t.Helper()
		args := []string{"analyze", "--skip-corrupt", "--partition", "day", "--policy", filepath.Join(dir, "plans.toml"), "--out", out, cut}
		code, _, stderr := runKeyrate(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return stderr
	}
	run()
	before := datasetFiles(t, out)
	if stderr := run(); !strings.Contains(stderr, "already in the dataset") {
		t.Errorf("the damaged input read again was not recognised:\n%s", stderr)
	}
	after := datasetFiles(t, out)
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed: the damaged input was counted twice", name)
		}
	}
}

// TestDatasetFutureLine: one line stamped in year 9998 (a broken clock)
// must not move the retention horizon there: the next nights' lines are
// still counted, and the dataset is the one run over everything.
func TestDatasetFutureLine(t *testing.T) {
	dir, nights := nightlyArchive(t, 7)
	future := filepath.Join(dir, "future.log")
	writeFile(t, future, []byte("10.0.0.1 - - [01/Jan/9998:00:00:00 +0000] \"GET /v1/items?api_key=k_clock HTTP/1.1\" 200 1 \"-\" \"-\"\n"))
	nightly, once := filepath.Join(dir, "nightly"), filepath.Join(dir, "once")
	nightlyRun(t, dir, nightly, append(paths(nights[0]), future)...)
	if stderr := nightlyRun(t, dir, nightly, paths(nights[1])...); strings.Contains(stderr, "older than the dataset keeps") {
		t.Fatalf("the night after a line stamped 9998 dropped lines as too old:\n%s", stderr)
	}
	nightlyRun(t, dir, once, append(append(paths(nights[0]), future), paths(nights[1])...)...)
	sameDataset(t, nightly, once)
}
