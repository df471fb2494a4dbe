package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestDryRunDetectsEveryInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := write("a.log", accessLog(20))
	// Names lie on purpose: compression comes from the content.
	gzipped := write("b.log", gz(accessLog(20)))
	zstded := write("c.gz", zst(accessLog(20)))
	other := write("d.txt", []byte("hello\nworld\n"))
	empty := write("e.log", nil)
	out := filepath.Join(dir, "out")
	var so, se bytes.Buffer
	code := run(context.Background(), []string{"analyze", "--dry-run", "--output", "csv", "--out", out, plain, gzipped, zstded, other, empty}, &so, &se)
	// d.txt matches no log format, so a real run would fail on it, and
	// so does the dry run, after listing every input.
	if code != 1 || !strings.Contains(se.String(), "1 of 5 inputs cannot be read") {
		t.Fatalf("exit %d, stderr %q", code, se.String())
	}
	for _, want := range []string{
		`(?m)^INPUT +SIZE +COMPRESSION +FORMAT$`,
		`(?m)^\S+a\.log +\d+ +none +combined \(10/10 sample lines parse\)$`,
		`(?m)^\S+b\.log +\d+ +gzip +combined \(10/10 sample lines parse\)$`,
		`(?m)^\S+c\.gz +\d+ +zstd +combined \(10/10 sample lines parse\)$`,
		`(?m)^\S+d\.txt +12 +none +error: \S+d\.txt: no known log format matches; first line: "hello"`,
		`(?m)^\S+e\.log +0 +none +empty$`,
		`(?m)^would write to \S+out: windows\.csv, violations\.csv, keys\.csv, throttle_audit\.csv, false_throttles\.csv, limits\.csv, manifest\.json$`,
	} {
		if !regexp.MustCompile(want).MatchString(so.String()) {
			t.Errorf("stdout does not match %s:\n%s", want, so.String())
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--dry-run created %s", out)
	}

	// The HTML report is among the files a run would write.
	so.Reset()
	code = run(context.Background(), []string{"analyze", "--dry-run", "--output", "csv,html", "--out", out, plain}, &so, io.Discard)
	if want := regexp.MustCompile(`(?m)^would write to \S+out: windows\.csv, .*, limits\.csv, report\.html, manifest\.json$`); code != 0 || !want.MatchString(so.String()) {
		t.Errorf("--output csv,html: exit %d, stdout does not match %s:\n%s", code, want, so.String())
	}

	// A corrupt input is reported in its row and fails the dry run.
	bad := write("f.bz2", []byte("BZh9 garbage"))
	so.Reset()
	se.Reset()
	code = run(context.Background(), []string{"analyze", "--dry-run", "--out", out, plain, bad}, &so, &se)
	if code != 1 {
		t.Errorf("exit %d with a corrupt input, want 1", code)
	}
	if !regexp.MustCompile(`(?m)^\S+f\.bz2 +12 +bzip2 +error: \S+f\.bz2: corrupt bzip2 stream near byte offset \d+: `).MatchString(so.String()) {
		t.Errorf("stdout lacks the corrupt row:\n%s", so.String())
	}
	if !regexp.MustCompile(`keyrate: dry run: 1 of 2 inputs cannot be read: \S+f\.bz2\n`).MatchString(se.String()) {
		t.Errorf("stderr %q", se.String())
	}
}

// TestDryRunIgnoresHeaderLines: W3C header lines hold no request, so they
// are neither successes nor failures among the sampled lines.
func TestDryRunIgnoresHeaderLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "u_ex261123.log")
	w3c := "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2026-11-23 10:00:00\n" +
		"#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status\n" +
		"2026-11-23 10:00:01 GET /v1/items api_key=k1 200\n2026-11-23 10:00:02 GET /v1/items api_key=k2 429\n"
	if err := os.WriteFile(p, []byte(w3c), 0o644); err != nil {
		t.Fatal(err)
	}
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "--dry-run", p}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if !strings.Contains(so.String(), "w3c (2/2 sample lines parse)") {
		t.Errorf("dry run output:\n%s", so.String())
	}

	// A file detected from its header whose lines do not fit it is read
	// as that format by a run, its lines malformed: the dry run says so
	// (it called the file "unrecognized"). With day partitions it names
	// the partitioned files.
	mismatch := filepath.Join(t.TempDir(), "u_ex261124.log")
	if err := os.WriteFile(mismatch, []byte("#Fields: date time cs-method cs-uri-stem\n2026-11-24 10:00:00 GET /x extra columns\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	so.Reset()
	if code := run(context.Background(), []string{"analyze", "--dry-run", "--partition", "day", "--output", "csv", mismatch}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	for _, want := range []string{"w3c, but 0/1 sample lines parse (malformed in a run)",
		"windows/date=YYYY-MM-DD/part-0.csv, violations/date=YYYY-MM-DD/part-0.csv, keys/date=YYYY-MM-DD/part-0.csv, throttle_audit/date=YYYY-MM-DD/part-0.csv, false_throttles/date=YYYY-MM-DD/part-0.csv, limits.csv, usage/date=YYYY-MM-DD/part-0.csv, manifest.json"} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, so.String())
		}
	}
	code, _, stderr := runKeyrate(t, "analyze", "--max-bad-ratio", "1", "--limit", "1/s", "--out", filepath.Join(t.TempDir(), "o"), mismatch)
	if code != 0 || !strings.Contains(stderr, "u_ex261124.log:2") {
		t.Errorf("the run: exit %d, %s", code, stderr)
	}
}
