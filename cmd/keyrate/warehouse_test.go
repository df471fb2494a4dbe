package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyrate/keyrate/report/dataset"
	"github.com/keyrate/keyrate/report/schema"
)

// testKeys are long and distinctive so that finding one in an output
// means it leaked; one starts with '=' for the CSV formula check.
var testKeys = []string{
	"k_live_7f3a9c2e11d04b8aa1", "k_live_0b5d8e4f22c13a7bb2", "=k_live_formula_cc3",
	"k_test_99e1f0a3b4c5d6e7f8", "k_live_5555aaaa5555aaaa55",
}

// writeNight writes nfiles combined logs of one logrotate night (06:25:01
// on day to 06:25:00 the next day, UTC), with bursts that break 5/min, a
// keyless line and a malformed line that contains a key.
func writeNight(t *testing.T, dir string, day time.Time, nfiles int, seed uint64) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	start := day.Add(6*time.Hour + 25*time.Minute + time.Second)
	var files []*bytes.Buffer
	for range nfiles {
		files = append(files, &bytes.Buffer{})
	}
	line := func(f *bytes.Buffer, ts time.Time, key string, status int) {
		fmt.Fprintf(f, "10.1.2.%d - - [%s] \"GET /v1/items?api_key=%s&page=2 HTTP/1.1\" %d %d \"-\" \"curl/8\"\n",
			r.IntN(250), ts.Format("02/Jan/2006:15:04:05 -0700"), key, status, r.IntN(5000))
	}
	line(files[0], start, testKeys[0], 200)
	for i := range 1500 {
		ts := start.Add(time.Duration(r.Int64N(int64(24*time.Hour - 2*time.Second))))
		key := testKeys[r.IntN(len(testKeys))]
		f := files[i%nfiles]
		if i%100 == 0 { // a burst
			for range 8 {
				line(f, ts, key, []int{200, 429}[r.IntN(2)])
			}
			continue
		}
		line(f, ts, key, []int{200, 200, 200, 404, 429, 500}[r.IntN(6)])
	}
	line(files[nfiles-1], start.Add(24*time.Hour-time.Second), testKeys[1], 200)
	fmt.Fprintf(files[0], "10.0.0.1 - - [%s] \"GET /health HTTP/1.1\" 200 2 \"-\" \"lb\"\n", start.Add(time.Hour).Format("02/Jan/2006:15:04:05 -0700"))
	fmt.Fprintf(files[0], "garbage line with ?api_key=%s inside\n", testKeys[3])
	var paths []string
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("access-%s-%d.log", day.Format("20060102"), i))
		if err := os.WriteFile(p, f.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

var night0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func analyze(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runKeyrate(t, append([]string{"analyze"}, args...)...)
}

func mustAnalyze(t *testing.T, args ...string) string {
	t.Helper()
	code, _, stderr := analyze(t, args...)
	if code != 0 {
		t.Fatalf("analyze %v: exit %d\n%s", args, code, stderr)
	}
	return stderr
}

// outputs maps every file under dir to its content, the manifest aside
// unless withManifest.
func outputs(t *testing.T, dir string, withManifest bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "manifest.json" && !withManifest || rel == filepath.FromSlash(dataset.LedgerFile) {
			return nil // the ledger notes when and in which order inputs were read
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKeysNeverLeak(t *testing.T) {
	logs := t.TempDir()
	paths := writeNight(t, logs, night0, 2, 1)
	secret := "nightly-secret-0123456789"
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYRATE_KEY_SECRET", secret)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"prefix", []string{"--key-display", "prefix"}},
		{"hmac-env", []string{"--key-display", "hmac"}},
		{"hmac-file", []string{"--key-display", "hmac", "--key-secret-file", secretFile}},
		{"hmac-partitioned", []string{"--key-display", "hmac", "--partition", "day"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"--limit", "5/min", "--max-bad-ratio", "0.5", "--out", out}, c.args...)
			code, stdout, stderr := analyze(t, append(args, paths...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			files := outputs(t, out, true)
			files["<stdout>"], files["<stderr>"] = stdout, stderr
			for name, content := range files {
				for _, k := range testKeys {
					if strings.Contains(content, k) || strings.Contains(content, strings.TrimPrefix(k, "=")) {
						t.Errorf("%s contains raw key %q", name, k)
					}
				}
			}
			if !strings.Contains(stderr, "malformed line") {
				t.Errorf("the malformed line is not reported: %s", stderr)
			}
			if strings.HasPrefix(c.name, "hmac") {
				m := hmac.New(sha256.New, []byte(secret))
				m.Write([]byte(testKeys[0]))
				want := hex.EncodeToString(m.Sum(nil))
				found := false
				for _, content := range files {
					found = found || strings.Contains(content, want)
				}
				if !found {
					t.Errorf("no output holds HMAC-SHA256(secret, key) = %s", want)
				}
			}
		})
	}
	// hmac without a secret is a usage error that does not read input.
	t.Setenv("KEYRATE_KEY_SECRET", "")
	if code, _, stderr := analyze(t, "--key-display", "hmac", "--out", t.TempDir(), paths[0]); code != exitUsage || !strings.Contains(stderr, "KEYRATE_KEY_SECRET") {
		t.Errorf("hmac without secret: exit %d, %s", code, stderr)
	}
}

// TestDeterministicOutputs: the same inputs and flags give byte-identical
// Parquet and CSV files whatever the worker count and file order.
func TestDeterministicOutputs(t *testing.T) {
	logs := t.TempDir()
	paths := writeNight(t, logs, night0, 4, 2)
	shuffled := slices.Clone(paths)
	rand.New(rand.NewPCG(9, 9)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if slices.Equal(shuffled, paths) {
		slices.Reverse(shuffled)
	}
	t.Setenv("KEYRATE_KEY_SECRET", "determinism-secret-0123")
	for _, mode := range [][]string{
		{},
		{"--partition", "day"},
		{"--partition", "day", "--key-display", "hmac"},
		{"--key-display", "prefix", "--csv-raw"},
	} {
		var ref map[string]string
		for i, run := range []struct {
			workers string
			files   []string
		}{{"1", paths}, {"2", shuffled}, {"4", paths}} {
			out := t.TempDir()
			args := append([]string{"--limit", "5/min", "--limit", "100/h", "--max-bad-ratio", "0.5", "--workers", run.workers, "--out", out}, mode...)
			mustAnalyze(t, append(args, run.files...)...)
			got := outputs(t, out, false)
			if i == 0 {
				ref = got
				if len(got) < 6 {
					t.Fatalf("%v: only %v", mode, keysOf(got))
				}
				continue
			}
			if !slices.Equal(keysOf(got), keysOf(ref)) {
				t.Fatalf("%v: files %v, want %v", mode, keysOf(got), keysOf(ref))
			}
			for name := range ref {
				if got[name] != ref[name] {
					t.Errorf("%v workers=%s: %s differs", mode, run.workers, name)
				}
			}
		}
	}
}

// TestNightlyPartitions is the cron story: a night re-run gives identical
// files; the next night replaces only the dates it covers; partial dates
// are in the manifest and on stderr.
func TestNightlyPartitions(t *testing.T) {
	logs, out := t.TempDir(), t.TempDir()
	n1 := writeNight(t, logs, night0, 2, 3)
	args := func(paths []string) []string {
		return append([]string{"--limit", "5/min", "--max-bad-ratio", "0.5", "--partition", "day", "--out", out}, paths...)
	}
	stderr := mustAnalyze(t, args(n1)...)
	first := outputs(t, out, false)
	if strings.Contains(stderr, "only in part") {
		t.Errorf("a dataset warns of dates covered in part, which the next night adds to: %s", stderr)
	}
	var m schema.Manifest
	b, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion == "" || !strings.HasPrefix(m.PolicyDigest, "sha256:") || m.KeyDisplay != "raw" || m.Partition != "day" ||
		!slices.Equal(m.PartitionDates, []string{"2026-11-23", "2026-11-24"}) || len(m.PartialDates) != 0 ||
		m.Dataset == nil || !slices.Equal(m.Dataset.Evaluated, m.PartitionDates) || m.Dataset.Inputs != 2 {
		t.Errorf("manifest %+v", m)
	}
	for _, table := range []string{"windows", "violations", "keys"} {
		for _, d := range m.PartitionDates {
			for _, ext := range []string{"csv", "parquet"} {
				if _, ok := first[table+"/date="+d+"/part-0."+ext]; !ok {
					t.Errorf("missing %s/date=%s/part-0.%s", table, d, ext)
				}
			}
		}
	}
	if m.Outputs["violations"] == 0 {
		t.Error("no violations: the bursts should break 5/min")
	}
	// totals.keys and the summary count keys, not the keys table's rows
	// (a key has a row per date).
	distinct := map[string]bool{}
	for _, d := range m.PartitionDates {
		for _, r := range readCSV(t, filepath.Join(out, "keys", "date="+d, "part-0.csv")) {
			distinct[r["key"]] = true
		}
	}
	if m.Totals.Keys != len(distinct) || int64(len(distinct)) >= m.Outputs["keys"] {
		t.Errorf("totals.keys %d, %d distinct keys in %d keys rows (want equal, and fewer than the rows)", m.Totals.Keys, len(distinct), m.Outputs["keys"])
	}
	if want := fmt.Sprintf(" keys=%d ", len(distinct)); !strings.Contains(stderr, want) {
		t.Errorf("summary lacks %q: %s", want, stderr)
	}
	// Re-running the night is idempotent.
	mustAnalyze(t, args(n1)...)
	if again := outputs(t, out, false); !mapsEqual(again, first) {
		t.Error("re-running the night changed the dataset")
	}
	// The next night covers 2026-11-24 (rest of it) and 2026-11-25:
	// 2026-11-23 stays as it was.
	n2 := writeNight(t, logs, night0.AddDate(0, 0, 1), 2, 4)
	mustAnalyze(t, args(n2)...)
	next := outputs(t, out, false)
	for name, content := range first {
		if strings.Contains(name, "date=2026-11-23/") && next[name] != content {
			t.Errorf("%s changed by the next night", name)
		}
		if strings.Contains(name, "date=2026-11-24/") && strings.HasSuffix(name, ".csv") && next[name] == content {
			t.Errorf("%s not replaced by the next night", name)
		}
	}
	if _, ok := next["keys/date=2026-11-25/part-0.parquet"]; !ok {
		t.Error("next night's new date missing")
	}
}

// TestWrongTimeLeavesOtherNightsAlone: one line stamped 1970 (an epoch-
// zero time) in a night's logs must not touch the partitions of any other
// night: it is older than the dataset keeps, so it is counted as expired,
// warned about and not aggregated.
func TestWrongTimeLeavesOtherNightsAlone(t *testing.T) {
	logs, out := t.TempDir(), t.TempDir()
	args := func(paths ...string) []string {
		return append([]string{"--limit", "5/min", "--max-bad-ratio", "0.5", "--partition", "day", "--out", out}, paths...)
	}
	mustAnalyze(t, args(writeNight(t, logs, night0, 1, 3)...)...)
	before := outputs(t, out, false)
	later := writeNight(t, logs, night0.AddDate(0, 0, 30), 1, 4)
	epoch := filepath.Join(logs, "epoch.log")
	if err := os.WriteFile(epoch, []byte("10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /v1/items?api_key=k_zero HTTP/1.1\" 200 1 \"-\" \"-\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := mustAnalyze(t, args(append(later, epoch)...)...)
	after := outputs(t, out, false)
	for name, content := range before {
		if strings.Contains(name, "/date=") && after[name] != content {
			t.Errorf("%s, a month before the night, changed", name)
		}
	}
	for name := range after {
		if strings.Contains(name, "date=1970") {
			t.Errorf("%s: the 1970 line was aggregated", name)
		}
	}
	var m schema.Manifest
	b, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if got := m.Inputs[len(m.Inputs)-1]; got.Expired != 1 || !slices.Equal(m.PartitionDates, []string{"2026-12-23", "2026-12-24"}) {
		t.Errorf("epoch.log expired %d (want 1), partition_dates %v", got.Expired, m.PartitionDates)
	}
	if !strings.Contains(stderr, "1 lines older than the dataset keeps (--retain-days 40) were not counted") {
		t.Errorf("no warning about the expired line:\n%s", stderr)
	}
}

func TestCSVFormulaFlag(t *testing.T) {
	logs := t.TempDir()
	paths := writeNight(t, logs, night0, 1, 5)
	for _, c := range []struct {
		flag string
		want string
	}{{"", "'=k_live_formula_cc3,"}, {"--csv-raw", "\"=k_live_formula_cc3\"\n"}} {
		out := t.TempDir()
		args := []string{"--limit", "5/min", "--max-bad-ratio", "0.5", "--out", out}
		if c.flag != "" {
			args = append(args, c.flag)
		}
		mustAnalyze(t, append(args, paths...)...)
		b, _ := os.ReadFile(filepath.Join(out, "keys.csv"))
		want := strings.TrimSuffix(strings.Trim(c.want, "\"\n"), ",")
		if !strings.Contains(string(b), want+",") {
			t.Errorf("%q: keys.csv lacks %q:\n%s", c.flag, want, b)
		}
		if c.flag == "" && strings.Contains(string(b), "\n=k_live") {
			t.Error("formula cell written raw by default")
		}
	}
}

func TestWarehouseFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--partition", "hour", "x.log"},
		{"--key-display", "md5", "x.log"},
		{"--key-secret-file", "/nonexistent", "x.log"},
	} {
		if code, _, stderr := analyze(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestHostileKeys: keys that are not UTF-8, or that look like their
// escaped form, must neither break the run (the declared sort order) nor
// merge in the reports, and every output must be valid UTF-8.
func TestHostileKeys(t *testing.T) {
	dir := t.TempDir()
	// %FF is byte 0xff; %5Cxff is the four characters \xff.
	encoded := []string{"%FF", "%5Cxff", "%5C%5Cxff", "a%FFb", "a%5Cxffb", "plain", "%C3%A9t%C3%A9"}
	var b strings.Builder
	ts := night0.Add(time.Hour)
	for i := range 400 {
		k := encoded[i%len(encoded)]
		fmt.Fprintf(&b, "10.0.0.1 - - [%s] \"GET /x?api_key=%s HTTP/1.1\" 200 5 \"-\" \"t\"\n",
			ts.Add(time.Duration(i/7)*time.Second).Format("02/Jan/2006:15:04:05 -0700"), k)
	}
	p := filepath.Join(dir, "hostile.log")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range [][]string{{}, {"--partition", "day"}, {"--key-display", "prefix"}} {
		out := t.TempDir()
		args := append([]string{"--limit", "2/min", "--limit", "1/s", "--out", out}, mode...)
		mustAnalyze(t, append(args, p)...)
		files := outputs(t, out, true)
		for name, c := range files {
			if !utf8.ValidString(c) && strings.HasSuffix(name, ".csv") {
				t.Errorf("%v: %s is not UTF-8", mode, name)
			}
		}
		var m struct {
			Totals struct{ Keys int } `json:"totals"`
		}
		json.Unmarshal([]byte(files["manifest.json"]), &m)
		keysCSV := files["keys.csv"]
		if keysCSV == "" {
			keysCSV = files["keys/date=2026-11-23/part-0.csv"]
		}
		if rows := strings.Count(keysCSV, "\n") - 1; rows != len(encoded) || m.Totals.Keys != len(encoded) {
			t.Errorf("%v: %d key rows, %d keys; want %d distinct", mode, rows, m.Totals.Keys, len(encoded))
		}
	}
}
