package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a new user tripped on (issue 20, item 18), run as they ran it.
func TestNewUserMessages(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, accessLog(30), 0o644)
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("[plans.free]\nlimits = [ { name = \"a\", algoritm = \"fixed\", limit = 1, window = \"1m\" } ]\n"), 0o644)
	out := filepath.Join(dir, "out")
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string // lines of stderr, in order
	}{
		{"throttle status not a number", []string{"--throttle-status", "abc", "--limit", "10/min", log}, exitUsage, []string{
			`keyrate: analyze: --throttle-status "abc": want whole numbers, comma-separated (as in 429,503)`,
			"Run 'keyrate analyze --help' for usage."}},
		{"glob matching nothing", []string{"--limit", "10/min", filepath.Join(dir, "nomatch-*.gz")}, exitRuntime, []string{
			"keyrate: " + filepath.Join(dir, "nomatch-*.gz") + ": no file matches this pattern"}},
		{"missing file", []string{"--limit", "10/min", filepath.Join(dir, "nosuch.log")}, exitRuntime, []string{
			"keyrate: " + filepath.Join(dir, "nosuch.log") + ": no such file or directory"}},
		{"missing policy", []string{"--policy", "nosuch.toml", log}, exitUsage, []string{
			"keyrate: --policy nosuch.toml: no such file or directory",
			"Run 'keyrate analyze --help' for usage."}},
		{"misspelt policy setting", []string{"--policy", typo, log}, exitUsage, []string{
			"keyrate: --policy: 2 problems: " + typo + ":2: plans.free.limits[0].algoritm: unknown limit setting (did you mean algorithm?); " +
				typo + ":2: plans.free.limits[0]: limit has no algorithm (want fixed, sliding, token-bucket or leaky-bucket)",
			"Run 'keyrate analyze --help' for usage."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runKeyrate(t, append([]string{"analyze", "--out", out}, c.args...)...)
			if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); code != c.code || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, c.code, strings.Join(c.want, "\n"))
			}
		})
	}
	t.Run("dataset forget", func(t *testing.T) {
		code, _, stderr := runKeyrate(t, "dataset", "forget", "--retain-days", "x", out, log)
		if want := "keyrate: dataset forget: --retain-days \"x\": want a whole number\nRun 'keyrate dataset --help' for usage.\n"; code != exitUsage || stderr != want {
			t.Errorf("exit %d, stderr %q; want %q", code, stderr, want)
		}
	})
}

// An empty input replaced the previous reports with empty ones without a
// word (issue 20, item 18): it still does (the reports are what the
// input holds), but warns, and the summary says so.
func TestEmptyInputWarns(t *testing.T) {
	dir := t.TempDir()
	log, empty := filepath.Join(dir, "a.log"), filepath.Join(dir, "empty.log")
	os.WriteFile(log, accessLog(30), 0o644)
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		args []string
		warn string
	}{
		{nil, "keyrate: warning: the inputs hold no lines: the reports written are empty, replacing the previous ones out="},
		{[]string{"--partition", "day"}, "keyrate: warning: the inputs read hold no lines: nothing is added to the dataset out="},
	} {
		out := t.TempDir()
		args := append([]string{"analyze", "--limit", "10/min", "--out", out}, c.args...)
		if code, _, stderr := runKeyrate(t, append(args, log)...); code != 0 || strings.Contains(stderr, "empty") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		code, _, stderr := runKeyrate(t, append(args, empty)...)
		if code != 0 || !strings.HasPrefix(stderr, c.warn) || !strings.Contains(stderr, " empty_input=true\n") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant the warning %q and empty_input=true in the summary", c.args, code, stderr, c.warn)
		}
	}
}
