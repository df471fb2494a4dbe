package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyrate/keyrate/internal/treetest"
	"github.com/keyrate/keyrate/report"
)

// errKilled is what every operation of a killed run returns.
var errKilled = errors.New("killed")

// stepKillFS is a process killed at its at-th change to the output
// directory (file or directory created, renamed, exchanged, linked,
// removed or synced), or with afterCommit at its first change after the
// commit point: that change and every later one never happen, and
// writes to files already open stop. committed says whether the journal
// had been renamed into place (the commit point) before.
type stepKillFS struct {
	report.OSFS
	at          int
	afterCommit bool
	mu          sync.Mutex
	n           int
	dead        atomic.Bool
	// committed is set by the journal's rename, at step commitAt.
	committed bool
	commitAt  int
}

func (f *stepKillFS) step() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n >= f.at || f.afterCommit && f.committed {
		f.dead.Store(true)
	}
	if f.dead.Load() {
		return errKilled
	}
	return nil
}

func (f *stepKillFS) CreateTemp(dir, pattern string) (report.File, error) {
	if err := f.step(); err != nil {
		return nil, err
	}
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &killFile{File: file, fs: f}, nil
}

func (f *stepKillFS) MkdirTemp(dir, pattern string) (string, error) {
	if err := f.step(); err != nil {
		return "", err
	}
	return f.OSFS.MkdirTemp(dir, pattern)
}

func (f *stepKillFS) MkdirAll(p string, perm fs.FileMode) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.MkdirAll(p, perm)
}

func (f *stepKillFS) Rename(o, n string) error {
	if err := f.step(); err != nil {
		return err
	}
	err := f.OSFS.Rename(o, n)
	if err == nil && strings.HasSuffix(filepath.ToSlash(n), "_keyrate/journal.json") {
		f.committed, f.commitAt = true, f.n
	}
	return err
}

func (f *stepKillFS) Exchange(a, b string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.Exchange(a, b)
}

func (f *stepKillFS) Link(o, n string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.Link(o, n)
}

func (f *stepKillFS) Remove(name string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.Remove(name)
}

func (f *stepKillFS) RemoveAll(name string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.RemoveAll(name)
}

func (f *stepKillFS) SyncDir(name string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.OSFS.SyncDir(name)
}

func (f *stepKillFS) Open(name string) (io.ReadCloser, error) {
	if f.dead.Load() {
		return nil, errKilled
	}
	return f.OSFS.Open(name)
}

// killFile is a file of a killed run: once dead, nothing more reaches it
// (the kernel closes it; what was written stays).
type killFile struct {
	report.File
	fs *stepKillFS
}

func (k *killFile) Write(p []byte) (int, error) {
	if k.fs.dead.Load() {
		return 0, errKilled
	}
	return k.File.Write(p)
}

func (k *killFile) Sync() error {
	if k.fs.dead.Load() {
		return errKilled
	}
	return k.File.Sync()
}

func (k *killFile) Close() error {
	err := k.File.Close()
	if k.fs.dead.Load() {
		return errKilled
	}
	return err
}

// outputTree maps every file under dir but the lock to its content, and
// every directory to "dir".
func outputTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == "." || rel == report.LockName:
		case d.IsDir():
			m[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runVolatile matches what differs between two runs over the same inputs:
// when they ran and how long they took.
var runVolatile = regexp.MustCompile(`"(read_at|wall_seconds|read_seconds|peak_rss_bytes)": *("[^"]*"|[0-9.e+-]+)`)

func stable(tree map[string]string) map[string]string {
	out := make(map[string]string, len(tree))
	for k, v := range tree {
		if strings.HasSuffix(k, ".json") {
			v = runVolatile.ReplaceAllString(v, `"$1": _`)
		}
		out[k] = v
	}
	return out
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// The dataset run (--partition day through cmd/internal/job) killed at
// every change it makes to the output directory, then recovered as the
// next run does: the dataset is entirely as before the killed run
// (partitions, partials, checkpoints, ledger, manifest, byte for byte) or
// entirely as after it, never a mix; and after it whenever the kill came
// after the journal's rename (issue 20, item 13).
func TestDatasetRunKilledAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a dataset run at each of its steps: a few hundred runs")
	}
	t.Parallel()
	dir, nights := nightlyArchive(t, 7)
	prev := filepath.Join(dir, "prev")
	nightlyRun(t, dir, prev, paths(nights[1])...)
	old := outputTree(t, prev)

	args := func(out string) []string {
		// The night before, read late: every date of the dataset is
		// evaluated again, its partitions replaced, and new ones added.
		return append([]string{"analyze", "--quiet", "--partition", "day", "--policy", filepath.Join(dir, "plans.toml"),
			"--out", out}, paths(nights[0])[:1]...)
	}
	// The same --out for every run: the manifest records the arguments.
	out := filepath.Join(dir, "out")
	copyTree(t, prev, out)
	count := &stepKillFS{at: 1 << 30}
	if code := runIn(context.Background(), env{outputFS: count}, args(out), io.Discard, io.Discard); code != 0 || !count.committed {
		t.Fatalf("undisturbed run: exit %d, committed %v", code, count.committed)
	}
	new := stable(outputTree(t, out))
	if maps.Equal(stable(old), new) {
		t.Fatal("the run changes nothing")
	}
	steps := count.n
	outcomes := map[string]int{}
	// Every step from shortly before the commit point on, and a sample
	// of the staging steps before (each kill is a whole run).
	for at := 1; at <= steps; at++ {
		if at < count.commitAt-16 && at%7 != 0 {
			continue
		}
		os.RemoveAll(out)
		copyTree(t, prev, out)
		killed := &stepKillFS{at: at}
		// A kill in the cleanup after the commit may go unnoticed (exit
		// 0): the run is then complete but for its staging directory.
		runIn(context.Background(), env{outputFS: killed}, args(out), io.Discard, io.Discard)
		if _, err := report.Recover(out); err != nil {
			t.Fatalf("killed at step %d: Recover: %v", at, err)
		}
		got := outputTree(t, out)
		switch {
		case maps.Equal(stable(got), new):
			outcomes["after"]++
		case killed.committed:
			t.Errorf("killed at step %d, after the commit point: %s", at, treetest.Diff(stable(got), new))
		case maps.Equal(got, old):
			outcomes["before"]++
		default:
			t.Errorf("killed at step %d: neither before nor after: against before: %s", at, treetest.Diff(got, old))
		}
	}
	if outcomes["after"] == 0 || outcomes["before"] == 0 {
		t.Errorf("outcomes %v: want kills on both sides of the commit point", outcomes)
	}
	t.Logf("%d steps; outcomes %v", steps, outcomes)
}
