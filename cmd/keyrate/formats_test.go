package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runStderr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, _, stderr := runKeyrate(t, args...)
	return code, stderr
}

func readManifestMap(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAnalyzeFormatFlags(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte(
		`{"when":"2024-01-02T03:04:05.123Z","u":"/v1/keys/sk_1/usage","status":200}`+"\n"+
			`{"when":"2024-01-02T03:04:06Z","u":"/v1/keys/nope/usage","status":200}`+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	code, stderr := runStderr(t, "analyze", "--field", "time=when,uri=u", "--key", "path:/v1/keys/{key}/*",
		"--key-pattern", `sk_[0-9]+`, "--limit", "10/min", "--out", out, log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := readManifestMap(t, out)
	in := m["inputs"].([]any)[0].(map[string]any)
	if in["format"] != "json" || in["time_precision"] != "ms" || in["invalid_key"] != 1.0 || in["parsed"] != 2.0 {
		t.Errorf("manifest input %v", in)
	}
	if tot := m["totals"].(map[string]any); tot["invalid_key"] != 1.0 || tot["parsed"] != 2.0 {
		t.Errorf("manifest totals %v", tot)
	}

	// --log-format with an Apache layout.
	log2 := filepath.Join(dir, "ssl.log")
	os.WriteFile(log2, []byte(`[10/Aug/2018:09:45:56 +0200] 172.30.0.119 TLSv1.2 "GET /x?api_key=z HTTP/1.1" 200`+"\n"), 0o644)
	out2 := filepath.Join(dir, "out2")
	code, stderr = runStderr(t, "analyze", "--log-format", `%t %h %{SSL_PROTOCOL}x \"%r\" %>s`, "--limit", "1/s", "--out", out2, log2)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	in = readManifestMap(t, out2)["inputs"].([]any)[0].(map[string]any)
	if in["format"] != "log-format" || in["parsed"] != 1.0 || in["keyless"] != 0.0 {
		t.Errorf("manifest input %v", in)
	}
}

func TestAnalyzeFormatFlagErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, []byte("what is this\n"), 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--format", "nope"}, exitUsage, `--format "nope"`},
		{[]string{"--format", "combined", "--log-format", "$remote_addr [$time_local]"}, exitUsage, "one or the other"},
		{[]string{"--log-format", "$remote_addr $status"}, exitUsage, "no time variable"},
		{[]string{"--field", "when=ts"}, exitUsage, `unknown role "when"`},
		{[]string{"--key-pattern", "("}, exitUsage, "--key-pattern"},
		{[]string{"--key", "path:/v1/x"}, exitUsage, "no {key}"},
		// (0 or less fell back to the default without a word.)
		{[]string{"--max-line-bytes", "0"}, exitUsage, "--max-line-bytes 0: want 1 to"},
		{[]string{"--max-line-bytes", "100000000000"}, exitUsage, "--max-line-bytes 100000000000: want 1 to 268435456"}, // was an out-of-memory crash
		{[]string{"--max-bad-ratio", "-0.5"}, exitUsage, "--max-bad-ratio -0.5"},
		{[]string{"--max-bad-ratio", "NaN"}, exitUsage, "--max-bad-ratio NaN"},
		{nil, exitRuntime, "what is this"}, // auto detection failure names the file and its first line
	}
	for _, c := range cases {
		args := append(append([]string{"analyze", "--limit", "1/s", "--out", filepath.Join(dir, "out")}, c.args...), log)
		code, stderr := runStderr(t, args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
		if c.code == exitRuntime && !strings.Contains(stderr, log) {
			t.Errorf("%v: stderr %q does not name %s", c.args, stderr, log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "manifest.json")); err == nil {
		t.Error("a failed run wrote a report")
	}
}

// --throttle-status takes HTTP statuses only: a typo such as 4290 would
// otherwise match nothing and make every 429 look served.
func TestAnalyzeThrottleStatusRange(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"4290", "99", "600"} {
		code, stderr := runStderr(t, "analyze", "--limit", "1/s", "--throttle-status", bad, "--out", filepath.Join(dir, "out"), "../../testdata/sample")
		if code != exitUsage || !strings.Contains(stderr, "--throttle-status "+bad) {
			t.Errorf("--throttle-status %s: exit %d, stderr %q; want %d naming the value", bad, code, stderr, exitUsage)
		}
	}
}

// TestGeneratedFormatsReportAlike: keyrate-gen writes the same requests
// as combined lines, nginx JSON lines or an IIS W3C log (gzip'd, so its
// blocks carry the #Fields state through a decompressing reader). Three
// parsers, three readers of keys and times: every report must be
// byte-identical, and so must the malformed and keyless counts.
func TestGeneratedFormatsReportAlike(t *testing.T) {
	dir := t.TempDir()
	var ref string
	for _, format := range []string{"combined", "json", "w3c"} {
		gen := exec.Command("go", "run", "../keyrate-gen", "--lines", "30000", "--seed", "7", "--rate", "300", "--format", format)
		data, err := gen.Output()
		if err != nil {
			t.Fatalf("keyrate-gen --format %s: %v", format, err)
		}
		in := filepath.Join(dir, "access."+format)
		writeCompressed(t, in, map[bool]string{true: "gzip", false: "plain"}[format == "w3c"], data)
		out := filepath.Join(dir, "out-"+format)
		code, _, stderr := runKeyrate(t, "analyze", "--limit", "100/min", "--limit", "10/s", "--workers", "2",
			"--max-bad-ratio", "1", "--out", out, in)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
		var m struct {
			Totals struct{ Lines, Malformed, Keyless int64 }
			Inputs []struct{ Format string }
		}
		mf, err := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(mf, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Inputs) != 1 || m.Inputs[0].Format != format || m.Totals.Malformed == 0 || m.Totals.Keyless == 0 {
			t.Fatalf("%s: manifest %s", format, mf)
		}
		counts := fmt.Sprint(m.Totals.Malformed, m.Totals.Keyless)
		if format == "combined" {
			ref = counts
			continue
		}
		if counts != ref {
			t.Errorf("%s: malformed and keyless %s, combined %s", format, counts, ref)
		}
		sameReports(t, filepath.Join(dir, "out-combined"), out, format)
	}
}

// TestInvalidUTF8KeysStayDistinct: keys that decode to different invalid
// UTF-8 (and a key that is the text of such an escape) are different keys.
// Replacing invalid bytes before aggregation merged them into one, whose
// summed requests were reported as violations no key committed.
func TestInvalidUTF8KeysStayDistinct(t *testing.T) {
	dir := t.TempDir()
	var log strings.Builder
	for i, key := range []string{"%ff", "%fe", "%c3", "%5cxff"} {
		fmt.Fprintf(&log, "1.2.3.4 - - [10/Oct/2026:13:55:3%d +0000] \"GET /?api_key=%s HTTP/1.1\" 200 5 \"-\" \"-\"\n", i, key)
	}
	in := filepath.Join(dir, "a.log")
	if err := os.WriteFile(in, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if code, stderr := runStderr(t, "analyze", "-q", "--limit", "1/min", "--out", out, in); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var keys []string
	for _, r := range readCSV(t, filepath.Join(out, "windows.csv")) {
		keys = append(keys, r["key"]+"="+r["requests"])
	}
	if got, want := strings.Join(keys, " "), `\\xff=1 \xc3=1 \xfe=1 \xff=1`; got != want {
		t.Errorf("windows: %s, want %s", got, want)
	}
	if v := readCSV(t, filepath.Join(out, "violations.csv")); len(v) != 0 {
		t.Errorf("%d violations, want none: %v", len(v), v)
	}
	if got := readManifestMap(t, out)["totals"].(map[string]any)["invalid_utf8"]; got != 3.0 {
		t.Errorf("manifest totals.invalid_utf8 = %v, want 3", got)
	}
}
