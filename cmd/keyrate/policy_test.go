package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
)

// A policy shaped like the example, with limits small enough to
// hit with a hand-checkable log.
const e2ePolicy = `default_plan = "free"
keys_file = "plans.csv"

[plans.free]
limits = [
  { name = "per-minute", algorithm = "fixed",        limit = 100,  window = "1m" },
  { name = "rolling",    algorithm = "sliding",      limit = 1000, window = "1h" },
  { name = "burst",      algorithm = "token-bucket", rate = 10.0,  burst = 20 },
  { name = "daily",      algorithm = "fixed",        limit = 100000, window = "24h" },
]

[plans.pro]
limits = [ { name = "per-minute", algorithm = "fixed", limit = 1000, window = "1m" } ]

[plans.team]
limits = [
  { name = "account-hourly", algorithm = "fixed", limit = 10, window = "1h", per = "account" },
  { name = "search-posts", algorithm = "leaky-bucket", rate = "1r/s", burst = 2, methods = ["POST"], paths = ["/v1/search*"] },
  { name = "monthly", algorithm = "fixed", limit = 1000, window = "month", exclude_status = [500] },
]

[keys]
"k_0123abcd" = "pro"
`

const e2eKeys = `key,plan,account
k_0123abcd,free
k_team1,team,acme
k_team2,team,acme
`

// logLines returns n combined-format lines for key at hh:mm:ss on
// 2026-11-25 UTC.
func logLines(n int, key, method, path, hms string, status int) string {
	var b strings.Builder
	for range n {
		fmt.Fprintf(&b, "10.0.0.1 - - [25/Nov/2026:%s +0000] \"%s %s?key=%s HTTP/1.1\" %d 10 \"-\" \"e2e\"\n", hms, method, path, key, status)
	}
	return b.String()
}

// writeE2E writes the policy, keys file and two log files (a request mix
// split over files so results cannot depend on file order).
func writeE2E(t *testing.T) (dir string) {
	dir = t.TempDir()
	files := map[string]string{
		"policy.toml": e2ePolicy,
		"plans.csv":   e2eKeys,
		// k_free (default plan): 150 at 10:00:00, 40 of them answered 429
		// by the real gateway; 5 more at 10:00:30.
		"a.log": logLines(110, "k_free", "GET", "/v1/items", "10:00:00", 200) +
			logLines(3, "k_0123abcd", "GET", "/v1/items", "10:05:00", 429) +
			logLines(8, "k_team1", "GET", "/v1/items", "11:00:00", 200) +
			logLines(5, "k_team1", "POST", "/v1/search/q", "11:20:00", 200),
		"b.log": logLines(40, "k_free", "GET", "/v1/items", "10:00:00", 429) +
			logLines(5, "k_free", "GET", "/v1/items", "10:00:30", 200) +
			logLines(5, "k_team2", "GET", "/v1/items", "11:10:00", 200) +
			logLines(1, "k_team2", "GET", "/v1/items", "11:30:00", 500),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readCSV reads a report table into rows keyed by column name.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// row formats the columns of a report row that the assertions compare.
func row(m map[string]string, cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = m[c]
	}
	return strings.Join(parts, " ")
}

var vioCols = []string{"key", "scope", "plan", "limit_name", "algorithm", "window_start", "window_end",
	"requests", "allowed", "excess", "gateway_rejected", "caught", "leaked"}

func TestAnalyzePolicyEndToEnd(t *testing.T) {
	dir := writeE2E(t)
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"),
		"--out", out, "--workers", "2", filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, r := range readCSV(t, filepath.Join(out, "violations.csv")) {
		got = append(got, row(r, vioCols...))
	}
	// Only buckets where the plan (one gateway: a request passes only if
	// every limit counting it has room, and is then counted in all)
	// rejected something, under the limits that rejected it.
	want := []string{
		// 19 requests of acme's two keys in hour 11 (the 500 counts: only
		// monthly excludes it) against 10 per hour.
		"acme account team account-hourly fixed 2026-11-25T11:00:00Z 2026-11-25T12:00:00Z 19 10 9 0 0 9",
		// The bucket holds 20 at the first request: 20 of 150 pass; 30 s
		// later it is full again and all 5 pass. per-minute (100) and
		// the others then count only the 25 the plan accepted: no
		// violation of theirs, and the gateway's 40 429s are caught.
		"k_free key free burst token-bucket 2026-11-25T10:00:00Z 2026-11-25T10:01:00Z 155 25 130 40 40 90",
		// nginx 1r/s burst=2: the first and two more pass.
		"k_team1 key team search-posts leaky-bucket 2026-11-25T11:20:00Z 2026-11-25T11:21:00Z 5 3 2 0 0 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	audit := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(out, "throttle_audit.csv")) {
		audit[r["key"]+"/"+r["limit_name"]] = row(r, "scope", "plan", "requests", "allowed", "excess", "gateway_rejected",
			"caught", "leaked", "exceeded_buckets", "peak_usage_pct")
	}
	for k, w := range map[string]string{
		// Peak at 11:20: 10 accepted before, 5 arriving: 150% of the
		// limit.
		"acme/account-hourly": "account team 19 10 9 0 0 9 1 150",
		"k_free/per-minute":   "key free 155 25 0 40 0 0 0 25",
		"k_free/rolling":      "key free 155 25 0 40 0 0 0 2.5",
		"k_free/burst":        "key free 155 25 130 40 40 90 1 750",
		// pro's per-minute is 1000: the real gateway's three 429s are
		// false throttles (in keys and false_throttles, not here).
		"k_0123abcd/per-minute": "key pro 3 3 0 3 0 0 0 0.3",
		// The 500 is excluded from monthly.
		"k_team2/monthly": "key team 5 5 0 0 0 0 0 0.5",
		// The 2 requests search-posts refused are not counted.
		"k_team1/monthly": "key team 13 11 0 0 0 0 0 1.0999999999999999",
		// Usage: a new key's 5 simultaneous requests need 5000
		// thousandths against a capacity of (burst+1)*1000.
		"k_team1/search-posts": "key team 5 3 2 0 0 2 1 166.66666666666669",
	} {
		if audit[k] != w {
			t.Errorf("audit %s = %q, want %q", k, audit[k], w)
		}
	}
	if len(audit) != 4+1+2+2+1 { // k_free 4, pro 1, two team keys 2 each, acme 1
		t.Errorf("%d audit rows: %v", len(audit), audit)
	}

	// The keys table reconciles each request once: k_free's 130
	// rejections, 40 of them caught; pro's three 429s all false.
	plans := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(out, "keys.csv")) {
		plans[r["key"]] = row(r, "plan", "violations", "rejected", "gateway_rejected", "caught", "leaked", "false_throttles")
	}
	for k, w := range map[string]string{"k_free": "free 1 130 40 40 90 0", "k_0123abcd": "pro 0 0 3 0 0 3",
		"k_team1": "team 1 2 0 0 2 0", "k_team2": "team 0 0 0 0 0 0"} {
		if plans[k] != w {
			t.Errorf("keys %s: %q, want %q", k, plans[k], w)
		}
	}
	// Every limit's definition, for the rows that name it to join.
	var limits []string
	for _, r := range readCSV(t, filepath.Join(out, "limits.csv")) {
		limits = append(limits, row(r, "plan", "limit_name", "algorithm", "limit", "window", "rate", "burst", "scope", "filter"))
	}
	wantLimits := []string{
		"free burst token-bucket   10 20 key ",
		"free daily fixed 100000 24h   key ",
		"free per-minute fixed 100 1m   key ",
		"free rolling sliding 1000 1h   key ",
		"pro per-minute fixed 1000 1m   key ",
		"team account-hourly fixed 10 1h   account ",
		"team monthly fixed 1000 month   key methods= paths= exclude=500",
		"team search-posts leaky-bucket   1 2 key methods=POST paths=/v1/search* exclude=",
	}
	if strings.Join(limits, "\n") != strings.Join(wantLimits, "\n") {
		t.Errorf("limits:\n%s\nwant:\n%s", strings.Join(limits, "\n"), strings.Join(wantLimits, "\n"))
	}
	var falses []string
	for _, r := range readCSV(t, filepath.Join(out, "false_throttles.csv")) {
		falses = append(falses, row(r, "key", "plan", "window_start", "window_end", "requests", "rejected", "gateway_rejected", "false_throttles"))
	}
	if w := "k_0123abcd pro 2026-11-25T10:05:00Z 2026-11-25T10:06:00Z 3 0 3 3"; strings.Join(falses, "\n") != w {
		t.Errorf("false_throttles:\n%s\nwant:\n%s", strings.Join(falses, "\n"), w)
	}
	// Windows keep fixed-limit counts per key (not per account): by
	// default only those the plan filled at least half (k_free's 25
	// accepted are a quarter of per-minute's 100); --all-windows lists
	// every one.
	if rows := readCSV(t, filepath.Join(out, "windows.csv")); len(rows) != 0 {
		t.Errorf("windows at most a quarter full listed: %v", rows)
	}
	all := filepath.Join(dir, "all")
	if code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"), "--all-windows",
		"--output", "csv", "--out", all, filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")); code != 0 {
		t.Fatalf("--all-windows: exit %d: %s", code, stderr)
	}
	var wins []string
	for _, r := range readCSV(t, filepath.Join(all, "windows.csv")) {
		if r["key"] == "k_free" {
			wins = append(wins, row(r, "plan", "limit_name", "window_start", "requests"))
		}
	}
	if w := "free daily 2026-11-25T00:00:00Z 155\nfree per-minute 2026-11-25T10:00:00Z 155"; strings.Join(wins, "\n") != w {
		t.Errorf("k_free windows:\n%s\nwant:\n%s", strings.Join(wins, "\n"), w)
	}

	var m struct {
		Inputs []struct {
			TimePrecision string `json:"time_precision"`
		} `json:"inputs"`
		Outputs       map[string]int64 `json:"outputs"`
		Policy        string           `json:"policy"`
		UnplannedKeys int64            `json:"unplanned_keys"`
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Inputs) != 2 || m.Inputs[0].TimePrecision != "s" || m.Outputs["throttle_audit"] != 10 || m.Outputs["violations"] != 3 || m.Outputs["false_throttles"] != 1 || !strings.HasSuffix(m.Policy, "policy.toml") {
		t.Errorf("manifest: %s", b)
	}
	// The Parquet tables hold the same rows as the CSV ones.
	pv, err := parquet.ReadFile[schema.ViolationRow](filepath.Join(out, "violations.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pv) != len(want) || pv[0].Key != "acme" || pv[0].Scope != "account" || pv[0].Excess != 9 || pv[1].Leaked != 90 {
		t.Errorf("violations.parquet: %+v", pv)
	}
	pa, err := parquet.ReadFile[schema.AuditRow](filepath.Join(out, "throttle_audit.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pa) != 10 || pa[0].Key != "acme" || pa[0].PeakUsagePct != 150 {
		t.Errorf("throttle_audit.parquet: %+v", pa)
	}
	pk, err := parquet.ReadFile[schema.KeyRow](filepath.Join(out, "keys.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pk) != 4 || pk[0].Key != "k_0123abcd" || pk[0].Plan != "pro" {
		t.Errorf("keys.parquet: %+v", pk)
	}
}

// With --verdict-field the status no longer decides: combined logs carry
// no verdict, so nothing counts as observed.
func TestAnalyzeVerdictFieldReplacesStatus(t *testing.T) {
	dir := writeE2E(t)
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"),
		"--verdict-field", "limit_req_status", "--output", "csv", "--out", out, filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, r := range readCSV(t, filepath.Join(out, "violations.csv")) {
		if r["gateway_rejected"] != "0" {
			t.Errorf("row %v: observed without a verdict", r)
		}
	}
	if !strings.Contains(stderr, `177 of 177 keyed lines have no "limit_req_status" field`) {
		t.Errorf("no warning about the missing verdict field:\n%s", stderr)
	}
}

// A JSON lines log keeps only the fields asked for: the verdict field
// must be one of them, or every rejection the gateway logged is lost
// (it was, until the third performance pass, with a warning that the
// field was missing).
func TestAnalyzeVerdictFieldFromJSONLines(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	for i, verdict := range []string{"PASSED", "PASSED", "REJECTED", "PASSED"} {
		fmt.Fprintf(&log, `{"time_local":"25/Nov/2026:10:00:%02d +0000","request":"GET /v1/x?key=k1 HTTP/1.1","status":200,"body_bytes_sent":5,"limit_req_status":"%s"}`+"\n", i, verdict)
	}
	in := filepath.Join(dir, "access.json")
	if err := os.WriteFile(in, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--limit", "2/min", "--verdict-field", "limit_req_status",
		"--output", "csv", "--out", out, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, r := range readCSV(t, filepath.Join(out, "violations.csv")) {
		got = append(got, row(r, "key", "requests", "allowed", "excess", "gateway_rejected", "caught", "leaked"))
	}
	if want := "k1 4 2 2 1 1 1"; strings.Join(got, "\n") != want {
		t.Errorf("violations %q, want %q", got, want)
	}
	if strings.Contains(stderr, "have no") {
		t.Errorf("warned of a missing verdict field:\n%s", stderr)
	}
}

func TestAnalyzeReportInterval(t *testing.T) {
	dir := writeE2E(t)
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"),
		"--report-interval", "10s", "--output", "csv", "--out", out, filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, r := range readCSV(t, filepath.Join(out, "violations.csv")) {
		if r["limit_name"] == "burst" {
			got = append(got, row(r, "window_start", "window_end", "requests", "allowed", "excess"))
		}
	}
	// 10 s buckets: the 10:00:30 requests get their own (all allowed,
	// observed none: no row); fixed limits keep their windows.
	if w := "2026-11-25T10:00:00Z 2026-11-25T10:00:10Z 150 20 130"; strings.Join(got, "\n") != w {
		t.Errorf("burst rows:\n%s\nwant %s", strings.Join(got, "\n"), w)
	}
}

// --limit is a one-plan policy of fixed limits named by their spec.
func TestAnalyzeLimitShortcut(t *testing.T) {
	dir := writeE2E(t)
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--limit", "100/min", "--output", "csv", "--out", out,
		filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, r := range readCSV(t, filepath.Join(out, "violations.csv")) {
		got = append(got, row(r, vioCols...))
	}
	// Only the bucket over its limit; k_0123abcd's three 429s, within
	// it, are false throttles, in their own table.
	want := []string{
		"k_free key cli 100/min fixed 2026-11-25T10:00:00Z 2026-11-25T10:01:00Z 155 100 55 40 40 15",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, _, stderr = runKeyrate(t, "analyze", "--limit", "100/min", "--policy", filepath.Join(dir, "policy.toml"), filepath.Join(dir, "a.log"))
	if code != exitUsage || !strings.Contains(stderr, "--policy and --limit") {
		t.Errorf("--policy with --limit: exit %d, %s", code, stderr)
	}
}

// Keys with no plan and no default are reported, not dropped.
func TestAnalyzeUnplannedKeys(t *testing.T) {
	dir := writeE2E(t)
	pol := strings.Replace(e2ePolicy, `default_plan = "free"`, "", 1)
	if err := os.WriteFile(filepath.Join(dir, "policy.toml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, _, stderr := runKeyrate(t, "analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"),
		"--output", "csv", "--out", out, filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "1 keys have no plan") {
		t.Errorf("stderr does not report the unplanned key: %s", stderr)
	}
	found := false
	for _, r := range readCSV(t, filepath.Join(out, "keys.csv")) {
		if r["key"] == "k_free" {
			found = r["plan"] == "" && r["requests"] == "155"
		}
	}
	if !found {
		t.Error("k_free missing from keys.csv or has a plan")
	}
}

func TestPolicyCheck(t *testing.T) {
	dir := writeE2E(t)
	code, stdout, stderr := runKeyrate(t, "policy", "check", filepath.Join(dir, "policy.toml"))
	if code != 0 || !strings.Contains(stdout, "ok: 3 plans, 8 limits, 3 keys assigned, 1 accounts, default plan free") {
		t.Errorf("valid policy: exit %d\n%s%s", code, stdout, stderr)
	}
	bad := filepath.Join("..", "..", "aggregate", "policy", "testdata", "bad.toml")
	code, _, stderr = runKeyrate(t, "policy", "check", bad)
	if code != exitUsage {
		t.Errorf("invalid policy: exit %d, want %d", code, exitUsage)
	}
	for _, w := range []string{"bad.toml:1: default_plan: unknown plan", "bad.toml:16: plans.free.limits[9].algorithm", "bad-keys.csv:3: "} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if code, _, _ := runKeyrate(t, "policy", "check"); code != exitUsage {
		t.Errorf("no file: exit %d", code)
	}
	// A 7th decimal is refused above 1/s too (it was rounded silently).
	seventh := filepath.Join(t.TempDir(), "seventh.toml")
	if err := os.WriteFile(seventh, []byte("[plans.free]\nlimits = [{ name = \"tb\", algorithm = \"token-bucket\", rate = 1.1234567, burst = 5 }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runKeyrate(t, "policy", "check", seventh)
	if code != exitUsage || !strings.Contains(stderr, "seventh.toml:2: plans.free.limits[0].rate: rate 1.1234567") || !strings.HasSuffix(strings.SplitN(stderr, "\n", 3)[1], ": 1 problem") {
		t.Errorf("7 decimals: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runKeyrate(t, "analyze", "--policy", bad, filepath.Join(dir, "a.log"))
	if code != exitUsage || !strings.Contains(stderr, "bad.toml:8:") {
		t.Errorf("analyze with an invalid policy: exit %d\n%s", code, stderr)
	}
}

// Results never depend on line or file order: the same requests shuffled
// into three files give byte-identical tables.
func TestAnalyzePolicyOrderIndependent(t *testing.T) {
	dir := writeE2E(t)
	var lines []string
	for _, f := range []string{"a.log", "b.log"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\n") + "\n"
	}
	rng := rand.New(rand.NewPCG(5, 6))
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	var shuffled []string
	for p := range 3 {
		name := filepath.Join(dir, fmt.Sprintf("s%d.log", p))
		if err := os.WriteFile(name, []byte(strings.Join(lines[p*len(lines)/3:(p+1)*len(lines)/3], "")), 0o644); err != nil {
			t.Fatal(err)
		}
		shuffled = append(shuffled, name)
	}
	args := []string{"analyze", "--key", "query:key", "--policy", filepath.Join(dir, "policy.toml"), "--output", "csv", "--all-windows"}
	if code, _, stderr := runKeyrate(t, append(args, "--out", filepath.Join(dir, "o1"), filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"))...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runKeyrate(t, append(args, "--workers", "3", "--out", filepath.Join(dir, "o2"), shuffled[2], shuffled[0], shuffled[1])...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, table := range []string{"violations.csv", "throttle_audit.csv", "keys.csv", "windows.csv"} {
		a, err1 := os.ReadFile(filepath.Join(dir, "o1", table))
		b, err2 := os.ReadFile(filepath.Join(dir, "o2", table))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) || len(a) < 100 {
			t.Errorf("%s differs after shuffling:\n%s\nvs\n%s", table, a, b)
		}
	}
}

// With many workers and no per-account rule, keys are evaluated in
// ranges on several cores; scoped limits (their filtered aggregates are
// split at the same keys) and every table must come out exactly as from
// one worker.
func TestAnalyzePolicyKeyRangesIdentical(t *testing.T) {
	dir := writeE2E(t)
	keyLocal := strings.Replace(e2ePolicy,
		`  { name = "account-hourly", algorithm = "fixed", limit = 10, window = "1h", per = "account" },`+"\n", "", 1)
	if keyLocal == e2ePolicy {
		t.Fatal("the per-account rule was not removed")
	}
	policy := filepath.Join(dir, "local.toml")
	if err := os.WriteFile(policy, []byte(keyLocal), 0o644); err != nil {
		t.Fatal(err)
	}
	// More keys than ranges, so that every range has some.
	var extra strings.Builder
	for i := range 300 {
		extra.WriteString(logLines(1+i%7, fmt.Sprintf("k_more%03d", i), []string{"GET", "POST"}[i%2], "/v1/search/x", "10:00:00", 200))
	}
	more := filepath.Join(dir, "more.log")
	if err := os.WriteFile(more, []byte(extra.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), more}
	for _, workers := range []string{"1", "8"} {
		args := append([]string{"analyze", "--key", "query:key", "--policy", policy, "--all-windows", "--workers", workers, "--out", filepath.Join(dir, "w"+workers)}, inputs...)
		if code, _, stderr := runKeyrate(t, args...); code != 0 {
			t.Fatalf("--workers %s: exit %d: %s", workers, code, stderr)
		}
	}
	for _, table := range []string{"violations", "throttle_audit", "keys", "windows"} {
		for _, ext := range []string{".csv", ".parquet"} {
			a, err1 := os.ReadFile(filepath.Join(dir, "w1", table+ext))
			b, err2 := os.ReadFile(filepath.Join(dir, "w8", table+ext))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !bytes.Equal(a, b) || len(a) < 100 {
				t.Errorf("%s%s differs between 1 and 8 workers (%d vs %d bytes)", table, ext, len(a), len(b))
			}
		}
	}
}
