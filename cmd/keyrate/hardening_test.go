//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 20's reproductions, run as a user would: a link planted in a
// shared --out must not make the run write, create or truncate anything
// through it.
func TestOutputLinksRefused(t *testing.T) {
	t.Run("lock file a link to a victim", func(t *testing.T) {
		base := t.TempDir()
		victim := filepath.Join(base, "victim")
		os.WriteFile(victim, []byte("precious\n"), 0o644)
		out := filepath.Join(base, "out")
		os.Mkdir(out, 0o755)
		os.Symlink(victim, filepath.Join(out, ".keyrate.lock"))
		code, stderr := runStderr(t, "analyze", "--limit", "10/min", "--out", out, sampleDir)
		if code != exitRuntime || !strings.Contains(stderr, filepath.Join(out, ".keyrate.lock")+" is a symbolic link") {
			t.Fatalf("exit %d, stderr %q: want 1 naming the link", code, stderr)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
			t.Errorf("victim truncated: %q", b)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 1 {
			t.Errorf("--out holds %v, want only the refused link", ents)
		}
	})
	t.Run("lock file a dangling link", func(t *testing.T) {
		base := t.TempDir()
		out := filepath.Join(base, "out")
		os.Mkdir(out, 0o755)
		target := filepath.Join(base, "created")
		os.Symlink(target, filepath.Join(out, ".keyrate.lock"))
		if code, stderr := runStderr(t, "analyze", "--limit", "10/min", "--out", out, sampleDir); code != exitRuntime {
			t.Fatalf("exit %d, stderr %q: want 1", code, stderr)
		}
		if _, err := os.Lstat(target); !os.IsNotExist(err) {
			t.Errorf("the dangling link's target was created (%v)", err)
		}
	})
	t.Run("table directory a link", func(t *testing.T) {
		base := t.TempDir()
		out, elsewhere := filepath.Join(base, "out"), filepath.Join(base, "elsewhere")
		os.Mkdir(out, 0o755)
		os.Mkdir(elsewhere, 0o755)
		os.Symlink(elsewhere, filepath.Join(out, "windows"))
		code, stderr := runStderr(t, "analyze", "--limit", "10/min", "--partition", "day", "--out", out, sampleDir)
		if code != exitRuntime || !strings.Contains(stderr, filepath.Join(out, "windows")+" is a symbolic link") {
			t.Fatalf("exit %d, stderr %q: want 1 naming the link", code, stderr)
		}
		if ents, _ := os.ReadDir(elsewhere); len(ents) > 0 {
			t.Errorf("written through the link: %v", ents)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 1 {
			t.Errorf("--out holds %v, want only the refused link", ents)
		}
	})
}

// A newline in a file name must not forge a line of keyrate's stderr:
// paths with control characters are quoted where keyrate names them, and
// the text handler escapes whatever an error quotes raw (an os error's
// path). The case: an input no format matches, named like the
// summary line.
func TestControlCharactersInPathsStayOnOneLine(t *testing.T) {
	dir := t.TempDir()
	forged := "keyrate: done files=1 lines=1 keys=0 violations=0 malformed=0 skipped_corrupt=0 seconds=0.001 out=o"
	undetected := filepath.Join(dir, "evil\n"+forged)
	os.WriteFile(undetected, []byte("hello world\n"), 0o644)
	corrupt := filepath.Join(dir, "cut\x1b[2K.gz")
	os.WriteFile(corrupt, gz(accessLog(100))[:200], 0o644)
	missing := filepath.Join(dir, "gone\nkeyrate: forged")
	for _, c := range []struct {
		args []string
		want string // quoted in the message
	}{
		{[]string{undetected}, `"` + dir + `/evil\n` + forged + `": no known log format`},
		{[]string{corrupt}, `"` + dir + `/cut\x1b[2K.gz": corrupt gzip stream`},
		{[]string{missing}, `gone\nkeyrate: forged`},
		{[]string{"--dry-run", undetected}, `"` + dir + `/evil\n` + forged + `"`},
	} {
		args := append([]string{"analyze", "--limit", "1/s", "--out", filepath.Join(dir, "out")}, c.args...)
		code, stdout, stderr := runKeyrate(t, args...)
		if code != exitRuntime {
			t.Errorf("%q: exit %d, want 1", c.args, code)
		}
		for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
			if !strings.HasPrefix(l, "keyrate: ") || strings.HasPrefix(l, "keyrate: done") {
				t.Errorf("%q: stderr line %q is not one of keyrate's records", c.args, l)
			}
		}
		if strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line", c.args, stderr)
		}
		if !strings.Contains(stderr+stdout, c.want) {
			t.Errorf("%q: output %q lacks %q", c.args, stderr+stdout, c.want)
		}
		if strings.Contains(stdout, "\n"+forged) || strings.Contains(stdout, "\x1b") {
			t.Errorf("%q: stdout %q holds a raw control character from a name", c.args, stdout)
		}
	}
}

func TestEscapeUnsafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain: \"quoted\" é":    "plain: \"quoted\" é",
		"a\nb\r\tc":              `a\nb\r\tc`,
		"esc\x1b[31m":            `esc\x1b[31m`,
		"bidi\u202eevil":         `bidi\u202eevil`,
		"bad\xffbyte, ok \ufffd": "bad\\xffbyte, ok \ufffd",
	} {
		if got := escapeUnsafe(in); got != want {
			t.Errorf("escapeUnsafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// A zstd --long=30 file is read with the default --memory; under a
// smaller budget it fails (exit 1) saying what to do, --skip-corrupt or
// not: never "0 lines, exit 0".
func TestZstdLongWindow(t *testing.T) {
	long30 := filepath.Join("..", "..", "testdata", "compress", "long30.log.zst")
	out := filepath.Join(t.TempDir(), "out")
	code, stderr := runStderr(t, "analyze", "-q", "--limit", "100/min", "--out", out, long30)
	if code != exitOK {
		t.Fatalf("default --memory: exit %d, %s", code, stderr)
	}
	if m := readManifest(t, out); m.Totals.Lines != 200 {
		t.Errorf("read %d lines, want 200", m.Totals.Lines)
	}
	for _, extra := range [][]string{nil, {"--skip-corrupt"}} {
		args := append([]string{"analyze", "-q", "--memory", "512MiB", "--limit", "100/min", "--out", out}, extra...)
		code, stderr := runStderr(t, append(args, long30)...)
		if code != exitRuntime || !strings.Contains(stderr, long30+": zstd frame with a 1 GiB window") ||
			!strings.Contains(stderr, "give --memory 1GiB or more") || !strings.Contains(stderr, "zstd -dc --long=31") {
			t.Errorf("--memory 512MiB %q: exit %d, stderr %q; want 1 with advice", extra, code, stderr)
		}
	}
}

// The case: a file starting with 64 KiB of blank lines failed
// detection with "no complete line in the first 65538 bytes". It is
// detected from its first line with content; the empty lines still count
// as lines, and malformed lines are named by their line in the file.
func TestLeadingEmptyLinesDetected(t *testing.T) {
	dir := t.TempDir()
	log := strings.Repeat("\n", 64<<10) + string(accessLog(50)) + "not a log line\n" + string(accessLog(50))
	path := filepath.Join(dir, "blank-start.log")
	os.WriteFile(path, []byte(log), 0o644)
	out := filepath.Join(dir, "out")
	code, stderr := runStderr(t, "analyze", "--limit", "100/min", "--out", out, path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := fmt.Sprintf("at=%s:%d ", path, 64<<10+51); !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks the malformed line's place %q", stderr, want)
	}
	m := readManifestMap(t, out)
	in := m["inputs"].([]any)[0].(map[string]any)
	if in["format"] != "combined" || in["lines"] != float64(64<<10+101) || in["parsed"] != float64(100) {
		t.Errorf("manifest input %v: want combined, %d lines, 100 parsed", in, 64<<10+101)
	}
	code, stdout, _ := runKeyrate(t, "analyze", "--dry-run", "--out", out, path)
	if code != exitOK || !strings.Contains(stdout, "combined (10/10 sample lines parse)") {
		t.Errorf("dry run: exit %d, %s", code, stdout)
	}
}

// --limit N/week and N/month are the policy file's calendar windows: ISO
// weeks from Monday, calendar months.
func TestLimitCalendarWindows(t *testing.T) {
	dir := t.TempDir()
	line := func(ts string) string {
		return "10.0.0.1 - - [" + ts + " +0000] \"GET /x?api_key=k HTTP/1.1\" 200 5 \"-\" \"t\"\n"
	}
	// Sunday 2026-11-29, Monday 2026-11-30, Tuesday 2026-12-01.
	log := line("29/Nov/2026:23:00:00") + line("30/Nov/2026:00:00:00") + line("01/Dec/2026:12:00:00")
	path := filepath.Join(dir, "a.log")
	os.WriteFile(path, []byte(log), 0o644)
	out := filepath.Join(dir, "out")
	code, stderr := runStderr(t, "analyze", "--limit", "1/week", "--limit", "1/month", "--limit", "1/year",
		"--all-windows", "--output", "csv", "--out", out, path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []string
	for _, r := range readCSV(t, filepath.Join(out, "windows.csv")) {
		got = append(got, row(r, "limit_name", "window_start", "window_end", "requests"))
	}
	want := []string{
		"1/month 2026-11-01T00:00:00Z 2026-12-01T00:00:00Z 2",
		"1/month 2026-12-01T00:00:00Z 2027-01-01T00:00:00Z 1",
		"1/week 2026-11-23T00:00:00Z 2026-11-30T00:00:00Z 1",
		"1/week 2026-11-30T00:00:00Z 2026-12-07T00:00:00Z 2",
		"1/year 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("windows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Windows keyrate cannot represent are usage errors, found before
// anything is read: the issue's --limit 1/9999999999999h (its
// milliseconds overflowed) failed only when the reports were written.
func TestUnrepresentableWindowsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "long.toml")
	os.WriteFile(policy, []byte("default_plan = \"p\"\n[plans.p]\nlimits = [{ name = \"ever\", algorithm = \"fixed\", limit = 1, window = \"9000h\" }]\n"), 0o644)
	for _, args := range [][]string{
		{"--limit", "1/9999999999999h"},
		{"--limit", "1/366day"},
		{"--limit", "1/2month"},
		{"--limit", "1/min", "--report-interval", "9000h"},
		{"--policy", policy},
	} {
		out := filepath.Join(dir, "out")
		code, stderr := runStderr(t, append(append([]string{"analyze", "--out", out}, args...), sampleDir)...)
		if code != exitUsage || !strings.Contains(stderr, "365 days") && !strings.Contains(stderr, "no multiple") {
			t.Errorf("%q: exit %d, %s; want 2 saying why", args, code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%q: --out created", args)
		}
	}
}

// Every window a run can produce is written in RFC 3339: a time in year
// 9999 (whose day, month, year or 365-day window would end in 10000,
// written 10000-01-01T00:00:00Z) is a malformed line; the last second of
// 9998 is the latest time read, its widest windows ending within 9999.
func TestLatestWindowsAreRFC3339(t *testing.T) {
	dir := t.TempDir()
	line := func(ts string) string {
		return "10.0.0.1 - - [" + ts + " +0000] \"GET /x?api_key=k HTTP/1.1\" 429 5 \"-\" \"t\"\n"
	}
	var log strings.Builder
	for range 99 {
		log.WriteString(line("31/Dec/9998:23:59:59"))
	}
	log.WriteString(line("31/Dec/9999:23:59:59"))
	path := filepath.Join(dir, "far.log")
	os.WriteFile(path, []byte(log.String()), 0o644)
	out := filepath.Join(dir, "out")
	code, stderr := runStderr(t, "analyze", "--max-bad-ratio", "0.5", "--limit", "1/day", "--limit", "1/365day", "--limit", "1/year",
		"--limit", "1/week", "--report-interval", "8760h", "--output", "csv", "--partition", "day", "--out", out, path)
	if code != exitOK || !strings.Contains(stderr, "0001 to 9998") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	n := 0
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".csv") {
			return err
		}
		for _, r := range readCSV(t, p) {
			for col, v := range r {
				if !strings.Contains(col, "window_") && !strings.HasSuffix(col, "_seen") {
					continue
				}
				n++
				if ts, err := time.Parse(time.RFC3339, v); err != nil || ts.Year() > 9999 {
					t.Errorf("%s: %s = %q is not RFC 3339 (%v)", p, col, v, err)
				}
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("%d times checked, %v", n, err)
	}
}

// The directory: access logs beside nginx's error.log and a
// README stopped the run with advice to use --format. The message names
// the file and how to leave it out; --exclude does, by base name or
// path, and the run reads the rest.
func TestExcludeNonLogFiles(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(filepath.Join(logs, "old"), 0o755)
	os.WriteFile(filepath.Join(logs, "access.log"), accessLog(30), 0o644)
	os.WriteFile(filepath.Join(logs, "access.log.1.gz"), gz(accessLog(20)), 0o644)
	os.WriteFile(filepath.Join(logs, "error.log"), []byte("2026/11/24 03:00:01 [error] 1201#1201: *7 open() \"/srv/favicon.ico\" failed (2: No such file or directory)\n"), 0o644)
	os.WriteFile(filepath.Join(logs, "old", "README"), []byte("Rotated by logrotate; do not edit.\n"), 0o644)
	out := filepath.Join(dir, "out")

	code, stderr := runStderr(t, "analyze", "--limit", "100/min", "--out", out, logs)
	if code != exitRuntime || !strings.Contains(stderr, filepath.Join(logs, "error.log")+": no known log format") ||
		!strings.Contains(stderr, "leave it out with --exclude error.log") {
		t.Fatalf("exit %d, %s; want 1 naming error.log and --exclude", code, stderr)
	}
	code, stderr = runStderr(t, "analyze", "--limit", "100/min", "--exclude", "error.log*", "--exclude", filepath.Join(logs, "old"), "--out", out, logs)
	if code != exitOK {
		t.Fatalf("with --exclude: exit %d, %s", code, stderr)
	}
	if m := readManifest(t, out); m.Totals.Lines != 50 || len(m.Inputs) != 2 {
		t.Errorf("read %d lines of %d inputs, want 50 of 2", m.Totals.Lines, len(m.Inputs))
	}
}

// A tar archive, plain or compressed, is refused naming the file (exit
// 1, whatever --format and --skip-corrupt), never read as one log whose
// header blocks are lines.
func TestTarArchiveRefused(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := accessLog(20)
	tw.WriteHeader(&tar.Header{Name: "access.log", Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	plain := filepath.Join(dir, "logs.tar")
	os.WriteFile(plain, buf.Bytes(), 0o644)
	packed := filepath.Join(dir, "logs.tar.gz")
	os.WriteFile(packed, gz(buf.Bytes()), 0o644)
	for _, extra := range [][]string{nil, {"--format", "combined"}, {"--skip-corrupt"}, {"--dry-run"}} {
		for _, path := range []string{plain, packed} {
			args := append([]string{"analyze", "--limit", "1/min", "--out", filepath.Join(dir, "out")}, extra...)
			code, stdout, stderr := runKeyrate(t, append(args, path)...)
			if code != exitRuntime || !strings.Contains(stdout+stderr, path+": a tar archive, not a log (extract it") {
				t.Errorf("%q %s: exit %d, %s%s; want 1 naming the archive", extra, path, code, stdout, stderr)
			}
		}
	}
}

// The sample API Gateway and Envoy logs are read with --format auto, and
// an Envoy layout is taken by --log-format; keys come from the API key
// field and the query.
func TestAPIGatewayAndEnvoyLogs(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "formats")
	out := filepath.Join(t.TempDir(), "out")
	code, stderr := runStderr(t, "analyze", "--key", "query:api_key,field:apiKey", "--limit", "5/min", "--out", out,
		filepath.Join(dir, "apigateway-rest.jsonl"), filepath.Join(dir, "envoy-default.log"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := readManifestMap(t, out)
	for i, want := range []string{"json", "envoy"} {
		in := m["inputs"].([]any)[i].(map[string]any)
		if in["format"] != want || in["parsed"] != float64(40) || in["malformed"] != float64(0) || in["keyless"].(float64) > 10 {
			t.Errorf("input %d: %v; want %s, 40 parsed with keys", i, in, want)
		}
	}
	if keys := m["totals"].(map[string]any)["keys"]; keys != float64(4) {
		t.Errorf("%v keys, want 4", keys)
	}
	layout := `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"`
	code, stderr = runStderr(t, "analyze", "--log-format", layout, "--limit", "5/min", "--out", out, filepath.Join(dir, "envoy-default.log"))
	if code != exitOK {
		t.Fatalf("--log-format (Envoy): exit %d: %s", code, stderr)
	}
	if in := readManifestMap(t, out)["inputs"].([]any)[0].(map[string]any); in["format"] != "log-format" || in["parsed"] != float64(40) {
		t.Errorf("--log-format (Envoy): %v", in)
	}
}

// --key-display hmac without a secret says so, not that "the secret has
// 0 bytes"; a short one gives its length.
func TestHMACWithoutSecret(t *testing.T) {
	t.Setenv("KEYRATE_KEY_SECRET", "")
	code, stderr := runStderr(t, "analyze", "--key-display", "hmac", "--out", t.TempDir(), sampleDir)
	if code != exitUsage || !strings.Contains(stderr, "hmac: no secret set, want one of at least 16 bytes (set KEYRATE_KEY_SECRET or --key-secret-file)") {
		t.Errorf("no secret: exit %d, %s", code, stderr)
	}
	t.Setenv("KEYRATE_KEY_SECRET", "short")
	if code, stderr := runStderr(t, "analyze", "--key-display", "hmac", "--out", t.TempDir(), sampleDir); code != exitUsage || !strings.Contains(stderr, "the secret has 5 bytes") {
		t.Errorf("short secret: exit %d, %s", code, stderr)
	}
}
