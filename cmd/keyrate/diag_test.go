package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStderrJSON(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	bad := filepath.Join(dir, "bad.gz")
	os.WriteFile(good, append(accessLog(20), "garbage line\n"...), 0o644)
	z := gz(accessLog(20000))
	os.WriteFile(bad, z[:len(z)/2], 0o644)
	out := filepath.Join(dir, "out")
	var so, se bytes.Buffer
	code := run(context.Background(), []string{"analyze", "--stderr-format", "json", "--max-bad-ratio", "0.5",
		"--skip-corrupt", "--strict-exit", "--limit", "1/s", "--time", "logged", "--out", out, good, bad}, &so, &se)
	if code != exitSkipped {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitSkipped, se.String())
	}
	var levels, msgs []string
	var done map[string]any
	sc := bufio.NewScanner(&se)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q: %v", sc.Text(), err)
		}
		levels = append(levels, fmt.Sprint(rec["level"]))
		msgs = append(msgs, fmt.Sprint(rec["msg"]))
		if rec["msg"] == "done" {
			done = rec
		}
	}
	if got := strings.Join(levels, " "); got != "INFO WARN INFO ERROR" {
		t.Errorf("levels %q (messages %q), want a malformed-line info, a skip warning, the summary and the exit error", got, msgs)
	}
	if done == nil {
		t.Fatal("no summary record")
	}
	for _, k := range []string{"files", "lines", "keys", "violations", "malformed", "skipped_corrupt", "seconds"} {
		if _, ok := done[k].(float64); !ok {
			t.Errorf("summary field %s = %v, want a number", k, done[k])
		}
	}
	if done["files"] != 2.0 || done["malformed"] != 1.0 || done["skipped_corrupt"] != 1.0 || done["keys"] != 5.0 {
		t.Errorf("summary %v", done)
	}
}

// In JSON mode even a usage error found after the flags were parsed is a
// JSON line, with no plain-text hint after it.
func TestStderrJSONUsageError(t *testing.T) {
	var so, se bytes.Buffer
	code := run(context.Background(), []string{"analyze", "--stderr-format", "json", "--limit", "5/fortnight", "x.log"}, &so, &se)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	var rec struct{ Level, Msg string }
	if err := json.Unmarshal(se.Bytes(), &rec); err != nil || rec.Level != "ERROR" || !strings.Contains(rec.Msg, "fortnight") {
		t.Errorf("stderr %q: want exactly one JSON error record (%v)", se.String(), err)
	}
}

func TestQuietKeepsOnlyWarnings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	os.WriteFile(good, append(accessLog(20), "garbage line\n"...), 0o644)
	out := filepath.Join(dir, "out")
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "-q", "--max-bad-ratio", "0.5", "--out", out, good}, &so, &se); code != 0 || se.Len() != 0 {
		t.Errorf("--quiet success: exit %d, stderr %q; want 0 and nothing", code, se.String())
	}
	bad := filepath.Join(dir, "bad.bz2")
	os.WriteFile(bad, []byte("BZh9 not bzip2 at all"), 0o644)
	se.Reset()
	code := run(context.Background(), []string{"analyze", "--quiet", "--max-bad-ratio", "0.5", "--skip-corrupt", "--out", out, good, bad}, &so, &se)
	if code != 0 || !strings.HasPrefix(se.String(), "keyrate: warning: skipped the rest of a corrupt input file="+bad) || strings.Count(se.String(), "\n") != 1 {
		t.Errorf("--quiet with a skipped input: exit %d, stderr %q; want 0 and one warning", code, se.String())
	}
}

// openPTY returns a pseudo-terminal pair: what is written to tty can be
// read from ptm.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close(); ptm.Close() })
	return ptm, tty
}

// progressRun analyzes a pipe that delivers lines for about a second
// with stderr on a terminal, and returns what the terminal showed and the
// input's name.
func progressRun(t *testing.T, extra ...string) (shown, input string) {
	ptm, tty := openPTY(t)
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&buf, ptm); close(copied) }()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		defer pw.Close()
		for range 10 {
			pw.Write(accessLog(2000))
			time.Sleep(100 * time.Millisecond)
		}
	}()
	args := append([]string{"analyze", "--out", filepath.Join(t.TempDir(), "out")}, extra...)
	input = fmt.Sprintf("/dev/fd/%d", pr.Fd())
	args = append(args, input)
	var so bytes.Buffer
	if code := run(context.Background(), args, &so, tty); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	return buf.String(), input
}

func TestProgressBarOnTerminal(t *testing.T) {
	shown, input := progressRun(t)
	if !strings.Contains(shown, "\r") || !strings.Contains(shown, "k lines/s") || !strings.Contains(shown, "B/s") ||
		!strings.Contains(shown, filepath.Base(input)+" ") {
		t.Errorf("terminal showed %q, want a progress line with lines/s and the input", shown)
	}
	if !strings.Contains(shown, "keyrate: done files=1 lines=20000") {
		t.Errorf("terminal showed %q, want the summary", shown)
	}
}

func TestNoProgressBarWhenQuiet(t *testing.T) {
	if shown, _ := progressRun(t, "--quiet"); shown != "" {
		t.Errorf("--quiet on a terminal showed %q, want nothing", shown)
	}
}

// TestJSONDiagnosticsCoverEveryMessage: under --stderr-format json every
// stderr line is one JSON object, warnings from partitions and malformed
// lines included, so a log shipper never meets a stray text line.
func TestJSONDiagnosticsCoverEveryMessage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var so, se bytes.Buffer
	for range 2 { // the second run says it reads nothing new
		code := run(context.Background(), []string{"analyze", "--stderr-format", "json", "--partition", "day",
			"--limit", "100/min", "--out", out, "../../testdata/sample"}, &so, &se)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se.String())
		}
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(se.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		msgs = append(msgs, fmt.Sprint(rec["msg"]))
	}
	all := strings.Join(msgs, "|")
	for _, want := range []string{"not read", "malformed line", "done"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q message among %q", want, msgs)
		}
	}
}

// TestTopOffendersOnTerminal: a run watched on a terminal ends with the
// keys furthest over their plan, reconciled; --quiet and a redirected
// stderr (cron) do not get them.
func TestTopOffendersOnTerminal(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		ptm, tty := openPTY(t)
		var buf bytes.Buffer
		copied := make(chan struct{})
		go func() { io.Copy(&buf, ptm); close(copied) }()
		args := []string{"analyze", "--limit", "100/min", "--limit", "10/s", "--output", "csv", "--out", filepath.Join(t.TempDir(), "out"), sampleDir}
		if quiet {
			args = append(args, "--quiet")
		}
		var so bytes.Buffer
		if code := run(context.Background(), args, &so, tty); code != 0 {
			t.Fatalf("exit %d", code)
		}
		tty.Close()
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		shown := buf.String()
		has := strings.Contains(shown, "top 1 over the plan key=k_alpha01 plan=cli requests=546 over=46")
		if has == quiet {
			t.Errorf("quiet=%v: terminal showed %q", quiet, shown)
		}
	}
	var se bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "--limit", "100/min", "--output", "csv", "--out", t.TempDir(), sampleDir}, io.Discard, &se); code != 0 ||
		strings.Contains(se.String(), "over the plan") {
		t.Errorf("exit %d; a redirected stderr got the top offenders: %s", code, se.String())
	}
}
