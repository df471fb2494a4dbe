//go:build unix

package input

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/2.log", "b/1.log", "a.log", "c.gz", "d/x/1.log", "d/x.log", "e/real.log"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	j := func(p string) string { return filepath.Join(dir, p) }
	must(os.Symlink(j("b"), j("blink")))             // a directory by a link
	must(os.Symlink(j("a.log"), j("d/a-link.log")))  // a file by a link, inside a directory
	must(os.Symlink(j("nowhere"), j("d/dangling")))  // skipped, said why
	must(os.Symlink(j("d"), j("d/x/up")))            // a loop back up
	must(syscall.Mkfifo(j("d/fifo"), 0o644))         // skipped: a walk must not block on it
	must(os.Symlink(j("b/2.log"), j("d/x/two.log"))) // the same file as b/2.log
	must(os.Symlink("real.log", j("e/current.log"))) // listed as real.log, though it sorts first
	must(os.Symlink("loop", j("e/loop")))            // a link to itself: skipped, not fatal

	for _, c := range []struct {
		name    string
		args    []string
		want    []string
		skipped []string
	}{
		{"directory, glob, stdin, a file named again",
			[]string{j("b"), j("*.log"), "-", j("b/1.log"), "-"},
			[]string{j("b/1.log"), j("b/2.log"), j("a.log"), "-"},
			[]string{j("b/1.log") + ": the same file as " + j("b/1.log"), "-: standard input, named again"}},
		{"a link to a directory is walked",
			[]string{j("blink")},
			[]string{j("blink/1.log"), j("blink/2.log")}, nil},
		{"a directory and a link to it: each file once",
			[]string{j("b"), j("blink") + "/"},
			[]string{j("b/1.log"), j("b/2.log")},
			[]string{j("blink") + "/: the same directory as " + j("b")}},
		{"a glob matching directories expands them",
			[]string{j("[bd]")},
			// Sorted as paths: "d/x.log" before "d/x/1.log" ('.' < '/');
			// d/a-link.log is a.log, d/x/two.log is b/2.log, and the
			// loop up to d is walked once.
			[]string{j("b/1.log"), j("b/2.log"), j("d/a-link.log"), j("d/x.log"), j("d/x/1.log")},
			[]string{j("d/dangling") + ": a dangling symbolic link", j("d/fifo") + ": not a regular file (p---------)",
				j("d/x/up") + ": the same directory as " + j("d"), j("d/x/two.log") + ": the same file as " + j("b/2.log")}},
		{"a file is listed under its own name, not a link's",
			[]string{j("e")}, []string{j("e/real.log")},
			[]string{j("e/loop") + ": a loop of symbolic links", j("e/current.log") + ": the same file as " + j("e/real.log")}},
		{"a FIFO named on the command line is an input",
			[]string{j("d/fifo")}, []string{j("d/fifo")}, nil},
	} {
		got, skipped, err := ExpandPaths(c.args, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: paths\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
		var sk []string
		for _, s := range skipped {
			sk = append(sk, s.Path+": "+s.Reason)
		}
		if strings.Join(sk, "\n") != strings.Join(c.skipped, "\n") {
			t.Errorf("%s: skipped\n%s\nwant\n%s", c.name, strings.Join(sk, "\n"), strings.Join(c.skipped, "\n"))
		}
	}

	// Standard input redirected from a file is that file; "-" twice is
	// read once.
	f, err := os.Open(j("a.log"))
	must(err)
	defer f.Close()
	got, skipped, err := ExpandPaths([]string{"-", j("a.log"), "-"}, f, nil)
	must(err)
	if len(got) != 1 || got[0] != "-" || len(skipped) != 2 ||
		skipped[0] != (Skipped{j("a.log"), "the same file as -"}) || skipped[1] != (Skipped{"-", "standard input, named again"}) {
		t.Errorf("stdin from a.log, a.log, stdin: %q, skipped %v", got, skipped)
	}

	if _, _, err := ExpandPaths([]string{j("missing*.log")}, nil, nil); err == nil {
		t.Error("a glob matching nothing was accepted")
	}
	if _, _, err := ExpandPaths([]string{j("nope.log")}, nil, nil); err == nil || !strings.Contains(err.Error(), "nope.log") {
		t.Errorf("missing file error = %v", err)
	}
	must(os.Mkdir(j("empty"), 0o755))
	if _, _, err := ExpandPaths([]string{j("empty")}, nil, nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty directory: error %v, want one naming it", err)
	}
}

// TestOpenFIFOIsAStream: a named pipe is a stream (Size -1), so that
// inputs which must seek, Parquet, refuse it instead of re-opening it and
// waiting for a writer that never comes.
func TestOpenFIFOIsAStream(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return // the test then fails on the read below
		}
		f.Write([]byte("PAR1 not really\n"))
		f.Close()
	}()
	in, err := new(Opener).Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Size != -1 {
		t.Errorf("a FIFO's Size = %d, want -1 (a stream)", in.Size)
	}
	if b, err := io.ReadAll(in); err != nil || string(b) != "PAR1 not really\n" {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestQuotePath(t *testing.T) {
	for in, want := range map[string]string{
		"logs/access.log":     "logs/access.log",
		"with space/ü.log":    "with space/ü.log",
		"a\nkeyrate: done":    `"a\nkeyrate: done"`,
		"esc\x1b[2K":          `"esc\x1b[2K"`,
		"rtl\u202egol.txt":    `"rtl\u202egol.txt"`,
		"latin1-\xe9t\xe9.gz": `"latin1-\xe9t\xe9.gz"`,
	} {
		if got := QuotePath(in); got != want {
			t.Errorf("QuotePath(%q) = %s, want %s", in, got, want)
		}
	}
}

// --exclude globs match a path whole or by its base name, wherever it
// came from: named, found in a directory (a matching directory is not
// walked), or matched by a glob.
func TestExpandPathsExclude(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"access.log", "access.log.1.gz", "error.log", "error.log.1.gz", "README", "old/access.log", "x/keep.log"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644)
	}
	j := func(p string) string { return filepath.Join(dir, p) }
	for _, c := range []struct {
		args, exclude, want []string
	}{
		{[]string{dir}, []string{"error.log*", "README"}, []string{j("access.log"), j("access.log.1.gz"), j("old/access.log"), j("x/keep.log")}},
		{[]string{dir}, []string{"old", "*.gz", "README", "error*"}, []string{j("access.log"), j("x/keep.log")}},
		{[]string{dir}, []string{j("old/*"), j("[aeR]*")}, []string{j("x/keep.log")}},
		{[]string{j("*.log"), j("error.log")}, []string{"error.log"}, []string{j("access.log")}},
	} {
		got, skipped, err := ExpandPaths(c.args, nil, c.exclude)
		if err != nil || len(skipped) != 0 || strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("exclude %q: %q, skipped %v, %v; want %q", c.exclude, got, skipped, err, c.want)
		}
	}
	if _, _, err := ExpandPaths([]string{j("error.log")}, nil, []string{"error.log"}); err == nil || !strings.Contains(err.Error(), "every one is excluded") {
		t.Errorf("all excluded: %v", err)
	}
	if _, _, err := ExpandPaths([]string{dir}, nil, []string{"["}); err == nil || !strings.Contains(err.Error(), `"["`) {
		t.Errorf("a bad pattern: %v", err)
	}
}
