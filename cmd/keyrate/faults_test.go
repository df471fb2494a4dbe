package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report"
)

// accessLog returns n combined-format lines over a few keys, 1 per second.
func accessLog(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "192.0.2.%d - - [24/Nov/2026:%02d:%02d:%02d +0000] \"GET /api/v2/orders?key=key-%d HTTP/1.1\" %d 512 \"-\" \"cron-test\"\n",
			i%250, i/3600%24, i/60%60, i%60, i%5, []int{200, 200, 429}[i%3])
	}
	return b.Bytes()
}

func gz(p []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(p)
	zw.Close()
	return b.Bytes()
}

func zst(p []byte) []byte {
	zw, _ := zstd.NewWriter(nil)
	return zw.EncodeAll(p, nil)
}

// dirState maps each file name in dir to its content; nil when dir does
// not exist.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func names(m map[string]string) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return fmt.Sprint(len(s), " files ", strings.Join(sortedCopy(s), " "))
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

var reportFiles = "13 files false_throttles.csv false_throttles.parquet keys.csv keys.parquet limits.csv limits.parquet manifest.json throttle_audit.csv throttle_audit.parquet violations.csv violations.parquet windows.csv windows.parquet"

// After is what a fault must leave in the output directory.
type after int

const (
	previousIntact after = iota // byte for byte the previous run's reports
	newReports                  // a new complete set (the run succeeded)
	noDir                       // the directory was never created
	custom                      // only what the case's check says
)

// faultEnv is one fault case's sandbox.
type faultEnv struct {
	t        *testing.T
	dir, out string
	env      env // what the faulty run works through
}

func (e *faultEnv) file(name string, data []byte) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

type faultCase struct {
	name string
	// setup returns the arguments after "analyze --limit 10/min --out OUT";
	// it may also arm a fault.
	setup func(e *faultEnv) []string
	code  int
	msg   string // regexp the stderr must match
	after after
	check func(t *testing.T, e *faultEnv, stderr string)
}

// failingFS injects one output fault through the report.FS seam.
type failingFS struct {
	report.OSFS
	writeErr  error
	renameErr error
	renames   int
	// onCreate, if set, runs after the second file of the set is created.
	onCreate func()
	creates  int
}

func (f *failingFS) CreateTemp(dir, pattern string) (report.File, error) {
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if f.creates++; f.onCreate != nil && f.creates == 2 {
		f.onCreate()
	}
	if err != nil || f.writeErr == nil {
		return file, err
	}
	return &failingFile{File: file, err: f.writeErr}, nil
}

func (f *failingFS) Rename(o, n string) error {
	if f.renames++; f.renameErr != nil && f.renames == 3 {
		return &os.LinkError{Op: "rename", Old: o, New: n, Err: f.renameErr}
	}
	return f.OSFS.Rename(o, n)
}

// foreignFiles are files in --out that keyrate did not write, named as
// an earlier keyrate named its temporary files and backups.
var foreignFiles = map[string]string{
	".windows.csv.tmp-17":   "partial",
	".manifest.json.tmp-18": "{",
	".keys.csv.tmp-19.prev": "key,old\n",
}

// failingFile accepts 1000 bytes, then fails as a full disk does.
type failingFile struct {
	report.File
	err error
	n   int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if f.n+len(p) > 1000 {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: f.err}
	}
	f.n += len(p)
	return f.File.Write(p)
}

func (e *faultEnv) withOutputFS(fsys report.FS) { e.env.outputFS = fsys }

func signalled(sig syscall.Signal) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&signalError{sig: sig})
	return ctx
}

// cutParquet is the first half of a valid Parquet access log.
func cutParquet(t *testing.T) []byte {
	t.Helper()
	type row struct {
		Time   string `parquet:"time"`
		URI    string `parquet:"uri"`
		Status int32  `parquet:"status"`
	}
	rows := make([]row, 5000)
	for i := range rows {
		rows[i] = row{"2026-11-25T10:00:00Z", fmt.Sprintf("/v1?api_key=k%d", i%9), 200}
	}
	var b bytes.Buffer
	if err := parquet.Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()[:b.Len()/2]
}

func TestFaultTable(t *testing.T) {
	cases := []faultCase{
		{name: "truncated gzip",
			setup: func(e *faultEnv) []string {
				z := gz(accessLog(30000))
				return []string{e.file("good.log", accessLog(10)), e.file("cut.log.gz", z[:len(z)/2])}
			},
			code: 1, msg: `keyrate: .*cut\.log\.gz: corrupt gzip stream near byte offset [1-9][0-9]*: unexpected EOF`, after: previousIntact},
		{name: "gzip trailer cut off",
			setup: func(e *faultEnv) []string {
				z := gz(accessLog(3000))
				return []string{e.file("cut.gz", z[:len(z)-4])}
			},
			code: 1, msg: `cut\.gz: corrupt gzip stream near byte offset [1-9][0-9]*: unexpected EOF`, after: previousIntact},
		{name: "zstd bad checksum",
			setup: func(e *faultEnv) []string {
				z := zst(accessLog(3000))
				z[len(z)-2] ^= 0x55
				return []string{e.file("bad.zst", z)}
			},
			code: 1, msg: `bad\.zst: corrupt zstd stream near byte offset [1-9][0-9]*: CRC check failed`, after: previousIntact},
		{name: "zstd cut short",
			setup: func(e *faultEnv) []string {
				z := zst(accessLog(3000))
				return []string{e.file("cut.zst", z[:len(z)/2])}
			},
			code: 1, msg: `cut\.zst: corrupt zstd stream near byte offset [1-9][0-9]*: `, after: previousIntact},
		{name: "bad gzip header",
			setup: func(e *faultEnv) []string {
				return []string{e.file("hdr.gz", []byte{0x1f, 0x8b, 0x99, 0, 0, 0, 0, 0, 0, 0, 0})}
			},
			code: 1, msg: `keyrate: \S+hdr\.gz: bad gzip header: `, after: previousIntact},
		{name: "corrupt input, --out not created yet",
			setup: func(e *faultEnv) []string {
				e.out = filepath.Join(e.dir, "fresh")
				z := gz(accessLog(3000))
				return []string{e.file("cut.gz", z[:len(z)/2])}
			},
			code: 1, msg: `cut\.gz: corrupt gzip stream`, after: noDir},
		{name: "bzip2 garbage",
			setup: func(e *faultEnv) []string {
				return []string{e.file("junk.bz2", append([]byte("BZh91AY&SY"), bytes.Repeat([]byte("junk"), 500)...))}
			},
			code: 1, msg: `junk\.bz2: corrupt bzip2 stream near byte offset [1-9][0-9]*: `, after: previousIntact},
		{name: "Parquet log cut short",
			setup: func(e *faultEnv) []string { return []string{e.file("cut.parquet", cutParquet(e.t))} },
			code:  1, msg: `keyrate: \S+cut\.parquet: not a readable Parquet file: `, after: previousIntact},
		{name: "skip-corrupt skips a Parquet log cut short",
			setup: func(e *faultEnv) []string {
				return []string{"--skip-corrupt", e.file("good.log", accessLog(10)), e.file("cut.parquet", cutParquet(e.t))}
			},
			code: 0, msg: `keyrate: warning: skipped the rest of a corrupt input file=\S+cut\.parquet error=".*not a readable Parquet file: .*"(.|\n)*skipped_corrupt=1`,
			after: newReports,
			check: func(t *testing.T, e *faultEnv, _ string) {
				m := readManifest(t, e.out)
				if m.Totals.CorruptFiles != 1 || len(m.Inputs) != 2 {
					t.Fatalf("manifest totals %+v", m.Totals)
				}
				if bad := m.Inputs[1]; !bad.Corrupt || !strings.Contains(bad.CorruptError, "not a readable Parquet file") {
					t.Errorf("Parquet input %+v: want it marked corrupt", bad)
				}
			}},
		{name: "input unreadable (EIO)",
			setup: func(e *faultEnv) []string { return []string{"/proc/self/mem"} },
			code:  1, msg: `/proc/self/mem: read error near byte offset 0: .*input/output error`, after: previousIntact},
		{name: "input missing",
			setup: func(e *faultEnv) []string { return []string{filepath.Join(e.dir, "rotated-away.log")} },
			code:  1, msg: `rotated-away\.log: .*no such file or directory`, after: previousIntact},
		{name: "input missing at startup, even with --skip-corrupt",
			setup: func(e *faultEnv) []string {
				return []string{"--skip-corrupt", e.file("good.log", accessLog(10)), filepath.Join(e.dir, "rotated-away.log")}
			},
			code: 1, msg: `rotated-away\.log: .*no such file or directory`, after: previousIntact},
		{name: "skip-corrupt reads the valid part",
			setup: func(e *faultEnv) []string {
				z := gz(accessLog(30000))
				return []string{"--skip-corrupt", e.file("good.log", accessLog(10)), e.file("cut.log.gz", z[:len(z)/2])}
			},
			code: 0, msg: `keyrate: warning: skipped the rest of a corrupt input file=\S+cut\.log\.gz error=".*unexpected EOF" bytes_read=[1-9][0-9]* lines_read=[1-9][0-9]*\n(.|\n)*keyrate: done files=2 .*skipped_corrupt=1`,
			after: newReports,
			check: func(t *testing.T, e *faultEnv, _ string) {
				m := readManifest(t, e.out)
				if m.Totals.CorruptFiles != 1 || len(m.Inputs) != 2 {
					t.Fatalf("manifest totals %+v", m.Totals)
				}
				good, bad := m.Inputs[0], m.Inputs[1]
				if good.Corrupt || good.Lines != 10 {
					t.Errorf("good input %+v", good)
				}
				if !bad.Corrupt || !strings.Contains(bad.CorruptError, "unexpected EOF") || bad.Lines < 1000 || bad.Lines >= 30000 {
					t.Errorf("corrupt input %+v: want corrupt with part of its 30000 lines", bad)
				}
				if m.Totals.Lines != good.Lines+bad.Lines {
					t.Errorf("totals count %d lines, inputs %d", m.Totals.Lines, good.Lines+bad.Lines)
				}
			}},
		{name: "skip-corrupt with strict-exit",
			setup: func(e *faultEnv) []string {
				z := zst(accessLog(3000))
				z[len(z)-2] ^= 0x55
				return []string{"--skip-corrupt", "--strict-exit", e.file("good.log", accessLog(10)), e.file("bad.zst", z)}
			},
			code: 4, msg: `keyrate: 1 corrupt input\(s\) skipped \(--strict-exit\); reports written to `, after: newReports},
		{name: "strict-exit with nothing skipped",
			setup: func(e *faultEnv) []string {
				return []string{"--skip-corrupt", "--strict-exit", e.file("good.log.gz", gz(accessLog(100)))}
			},
			code: 0, msg: `keyrate: done files=1 lines=100 .*skipped_corrupt=0`, after: newReports},
		{name: "disk full",
			setup: func(e *faultEnv) []string {
				e.withOutputFS(&failingFS{writeErr: syscall.ENOSPC})
				return []string{e.file("good.log", accessLog(5000))}
			},
			code: 1, msg: `keyrate: writing reports to \S+: .*no space left on device`, after: previousIntact},
		{name: "rename fails after two files replaced",
			setup: func(e *faultEnv) []string {
				e.withOutputFS(&failingFS{renameErr: syscall.EIO})
				return []string{e.file("good.log", accessLog(500))}
			},
			code: 1, msg: `keyrate: writing reports to \S+: rename .*input/output error`, after: previousIntact},
		{name: "output directory vanishes while writing",
			setup: func(e *faultEnv) []string {
				e.withOutputFS(&failingFS{onCreate: func() { os.RemoveAll(e.out) }})
				return []string{e.file("good.log", accessLog(500))}
			},
			code: 1, msg: `keyrate: writing reports to \S+: .*no such file or directory`, after: noDir},
		{name: "output path under a regular file",
			setup: func(e *faultEnv) []string {
				blocker := e.file("blocker", nil)
				e.out = filepath.Join(blocker, "out")
				return []string{e.file("good.log", accessLog(10))}
			},
			code: 1, msg: `keyrate: output directory \S+blocker/out: mkdir .*not a directory`, after: noDir},
		{name: "read-only output directory",
			// Even root cannot create files in /proc/self: a read-only
			// directory that chmod-proof tests can rely on.
			setup: func(e *faultEnv) []string {
				e.out = "/proc/self"
				return []string{e.file("good.log", accessLog(10))}
			},
			code: 1, msg: `keyrate: output directory /proc/self: open /proc/self/\.keyrate\.lock: `, after: custom},
		{name: "another run holds the lock",
			setup: func(e *faultEnv) []string {
				l, err := report.LockDir(e.out)
				if err != nil {
					e.t.Fatal(err)
				}
				e.t.Cleanup(l.Unlock)
				return []string{e.file("good.log", accessLog(10))}
			},
			code: 5, after: custom, msg: fmt.Sprintf(`keyrate: output directory \S+ is in use by another keyrate run \(pid %d; lock \S+\.keyrate\.lock\)`, os.Getpid()),
			check: func(t *testing.T, e *faultEnv, _ string) {
				st := dirState(t, e.out)
				delete(st, report.LockName) // the holder's, still held
				if names(st) != reportFiles {
					t.Errorf("directory holds %s", names(st))
				}
			}},
		{name: "leftovers of a run killed with SIGKILL",
			setup: func(e *faultEnv) []string {
				// Files named like an earlier keyrate's temporary files,
				// which recovery must not touch (issue 20, item 2), and
				// a run killed just after its commit point.
				for name, content := range foreignFiles {
					e.file(filepath.Join("out", name), []byte(content))
				}
				killed := &stepKillFS{at: 1 << 30, afterCommit: true}
				env := osEnv()
				env.outputFS = killed
				var so, se bytes.Buffer
				runIn(context.Background(), env, []string{"analyze", "--limit", "10/min", "--out", e.out, e.file("killed.log", accessLog(30))}, &so, &se)
				if !killed.dead.Load() {
					e.t.Fatalf("the run was not killed after its commit point: %s", se.String())
				}
				return []string{"--quiet", e.file("good.log", accessLog(10))}
			},
			code: 0, after: custom,
			msg: `^keyrate: warning: cleaned up after a killed run dir=\S+ actions="completed the commit of a killed run \(\d+ of its \d+ changes were left to make\); removed \S+/\.keyrate-staging"\n$`,
			check: func(t *testing.T, e *faultEnv, _ string) {
				st := dirState(t, e.out)
				for name, content := range foreignFiles {
					if st[name] != content {
						t.Errorf("%s: %q, want it untouched (%q)", name, st[name], content)
					}
					delete(st, name)
				}
				if names(st) != reportFiles {
					t.Errorf("output directory holds %s, want a complete set", names(st))
				}
			}},
		{name: "malformed ratio exceeded",
			setup: func(e *faultEnv) []string {
				return []string{"--format", "combined", e.file("junk.log", []byte("not a log line\nnor this\n"))}
			},
			code: 3, msg: `keyrate: 2 of 2 lines malformed`, after: previousIntact},
		{name: "dry run writes nothing",
			setup: func(e *faultEnv) []string {
				e.out = filepath.Join(e.dir, "never")
				return []string{"--dry-run", e.file("a.log.gz", gz(accessLog(10)))}
			},
			code: 0, msg: `^$`, after: noDir},
		{name: "bad --stderr-format",
			setup: func(e *faultEnv) []string { return []string{"--stderr-format", "xml", "x.log"} },
			code:  2, msg: `--stderr-format "xml": want text or json`, after: previousIntact},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runFaultCase(t, context.Background(), c)
		})
	}
}

// runFaultCase runs a good analysis into a fresh directory, then the
// faulty one into the same directory, and checks code, message and disk.
func runFaultCase(t *testing.T, ctx context.Context, c faultCase) {
	e := &faultEnv{t: t, dir: t.TempDir(), env: osEnv()}
	e.out = filepath.Join(e.dir, "out")
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"analyze", "--limit", "10/min", "--out", e.out, e.file("previous.log", accessLog(50))}, &so, &se); code != 0 {
		t.Fatalf("previous run: exit %d: %s", code, se.String())
	}
	previous := dirState(t, e.out)
	if names(previous) != reportFiles {
		t.Fatalf("previous run left %s", names(previous))
	}
	args := c.setup(e)
	if e.out != filepath.Join(e.dir, "out") && c.after != custom {
		previous = dirState(t, e.out)
	}
	so.Reset()
	se.Reset()
	// --time logged: the warning that a combined log's [time] may not be
	// the requests' arrival is not what these cases check.
	code := runIn(ctx, e.env, append([]string{"analyze", "--limit", "10/min", "--time", "logged", "--out", e.out}, args...), &so, &se)
	if code != c.code {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, c.code, se.String())
	}
	if !regexp.MustCompile(c.msg).MatchString(se.String()) {
		t.Errorf("stderr does not match %q:\n%s", c.msg, se.String())
	}
	var now map[string]string
	if c.after != custom {
		now = dirState(t, e.out)
	}
	switch c.after {
	case previousIntact:
		if names(now) != names(previous) {
			t.Errorf("output directory holds %s, want the previous %s", names(now), names(previous))
		}
		for name, content := range previous {
			if now[name] != content {
				t.Errorf("%s changed", name)
			}
		}
	case newReports:
		if names(now) != reportFiles {
			t.Errorf("output directory holds %s, want a complete set", names(now))
		}
		if now["manifest.json"] == previous["manifest.json"] {
			t.Error("manifest.json was not replaced")
		}
	case noDir:
		if now != nil {
			t.Errorf("%s exists (%s), want nothing written", e.out, names(now))
		}
	}
	if c.check != nil {
		c.check(t, e, se.String())
	}
}

func TestSignalExitCodes(t *testing.T) {
	for _, s := range []struct {
		sig  syscall.Signal
		code int
		msg  string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(s.sig.String(), func(t *testing.T) {
			runFaultCase(t, signalled(s.sig), faultCase{
				setup: func(e *faultEnv) []string { return []string{e.file("big.log", accessLog(20000))} },
				code:  s.code, msg: "^keyrate: interrupted by " + s.msg + "; no report written\n$", after: previousIntact,
			})
		})
	}
}

// A signal that arrives while the reports are being written stops the
// run before anything is renamed into place.
func TestSignalWhileWriting(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	runFaultCase(t, ctx, faultCase{
		setup: func(e *faultEnv) []string {
			e.withOutputFS(&failingFS{onCreate: func() { cancel(&signalError{sig: syscall.SIGTERM}) }})
			return []string{e.file("big.log", accessLog(20000))}
		},
		code: 143, msg: "^keyrate: interrupted by SIGTERM; no report written\n$", after: previousIntact,
	})
}

type manifestForTest struct {
	Totals struct {
		Lines        int64 `json:"lines"`
		CorruptFiles int   `json:"corrupt_files"`
	} `json:"totals"`
	Inputs []struct {
		Path         string `json:"path"`
		Lines        int64  `json:"lines"`
		Corrupt      bool   `json:"corrupt"`
		CorruptError string `json:"corrupt_error"`
	} `json:"inputs"`
}

func readManifest(t *testing.T, dir string) manifestForTest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifestForTest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
