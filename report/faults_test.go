package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report/schema"
)

type testRow struct {
	Key string `parquet:"key"`
	N   int64  `parquet:"n"`
}

// faultFS is the OS file system with one injected fault.
type faultFS struct {
	OSFS
	writeLimit int64 // > 0: writes fail with ENOSPC past this many bytes per file
	failSync   bool
	createErr  error // returned by the create-th CreateTemp (1-based)
	create     int
	renameErr  error // returned by the rename-th Rename (1-based)
	rename     int
	vanishDir  string // removed (with its contents) at the vanish-th create
	vanish     int
	syncDirErr error // returned by the syncDir-th SyncDir (1-based)
	syncDir    int
	mkdirErr   error // returned by every MkdirTemp
	creates    int
	renames    int
	syncDirs   int
}

func (f *faultFS) CreateTemp(dir, pattern string) (File, error) {
	f.creates++
	if f.createErr != nil && f.creates == f.create {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir, pattern), Err: f.createErr}
	}
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if f.vanishDir != "" && f.creates == f.vanish {
		os.RemoveAll(f.vanishDir)
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	f.renames++
	if f.renameErr != nil && f.renames == f.rename {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: f.renameErr}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

func (f *faultFS) MkdirTemp(dir, pattern string) (string, error) {
	if f.mkdirErr != nil {
		return "", &os.PathError{Op: "mkdirtemp", Path: filepath.Join(dir, pattern), Err: f.mkdirErr}
	}
	return f.OSFS.MkdirTemp(dir, pattern)
}

func (f *faultFS) SyncDir(name string) error {
	f.syncDirs++
	if f.syncDirErr != nil && f.syncDirs == f.syncDir {
		return &os.PathError{Op: "sync", Path: name, Err: f.syncDirErr}
	}
	return f.OSFS.SyncDir(name)
}

type faultFile struct {
	File
	fs      *faultFS
	written int64
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.writeLimit > 0 && f.written+int64(len(p)) > f.fs.writeLimit {
		n, _ := f.File.Write(p[:f.fs.writeLimit-f.written])
		f.written += int64(n)
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	n, err := f.File.Write(p)
	f.written += int64(n)
	return n, err
}

func (f *faultFile) Sync() error {
	if f.fs.failSync {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

// writeFaultSet writes a full set of two tables plus a manifest through
// fsys.
func writeFaultSet(dir string, fsys FS, rows int, tag string) error {
	return writeSetIn(context.Background(), dir, fsys, []Format{CSV, Parquet}, rows, tag)
}

// writeSetIn writes a set of two tables in formats plus a manifest
// through fsys, committing under ctx.
func writeSetIn(ctx context.Context, dir string, fsys FS, formats []Format, rows int, tag string) error {
	set, err := NewSetFS(dir, formats, fsys)
	if err != nil {
		return err
	}
	fail := func(err error) error { set.Abort(); return err }
	a, err := NewTable(set, tableOf[testRow]("a"))
	if err != nil {
		return fail(err)
	}
	b, err := NewTable(set, tableOf[testRow]("b"))
	if err != nil {
		return fail(err)
	}
	for i := range rows {
		r := testRow{Key: fmt.Sprintf("%s-key-%06d", tag, i), N: int64(i)}
		if err := a.Write(&r); err != nil {
			return fail(err)
		}
		if err := b.Write(&r); err != nil {
			return fail(err)
		}
	}
	return set.Commit(ctx, &schema.Manifest{Version: tag})
}

// snapshot maps every file name in dir to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
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

func TestOutputFaultsLeavePreviousSet(t *testing.T) {
	cases := []struct {
		name string
		fs   func(dir string) *faultFS
		want string
	}{
		{"disk full", func(string) *faultFS { return &faultFS{writeLimit: 4096} }, "no space left on device"},
		{"fsync fails", func(string) *faultFS { return &faultFS{failSync: true} }, "input/output error"},
		{"read-only dir", func(string) *faultFS { return &faultFS{createErr: syscall.EROFS, create: 1} }, "read-only file system"},
		{"read-only at manifest", func(string) *faultFS { return &faultFS{createErr: syscall.EROFS, create: 5} }, "read-only file system"},
		{"first rename fails", func(string) *faultFS { return &faultFS{renameErr: syscall.EIO, rename: 1} }, "input/output error"},
		// Later renames fail after earlier files replaced their previous
		// versions: those must be rolled back.
		{"third rename fails", func(string) *faultFS { return &faultFS{renameErr: syscall.EIO, rename: 3} }, "input/output error"},
		{"manifest rename fails", func(string) *faultFS { return &faultFS{renameErr: syscall.ENOSPC, rename: 5} }, "no space left"},
		// A rename is not durable until its directory is synced: a
		// failing sync fails the commit, before or after the manifest.
		{"directory sync fails", func(string) *faultFS { return &faultFS{syncDirErr: syscall.EIO, syncDir: 1} }, "input/output error"},
		{"directory sync after the manifest fails", func(string) *faultFS { return &faultFS{syncDirErr: syscall.EIO, syncDir: 2} }, "input/output error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeFaultSet(dir, OSFS{}, 100, "old"); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			if len(before) != 5 {
				t.Fatalf("previous set has %d files, want 5", len(before))
			}
			err := writeFaultSet(dir, c.fs(dir), 5000, "new")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want %q", err, c.want)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("after the failure the directory holds %d files, want the previous %d", len(after), len(before))
			}
			for name, content := range before {
				if after[name] != content {
					t.Errorf("%s changed (or vanished) after a failed commit", name)
				}
			}
			for name := range after {
				if _, ok := before[name]; !ok {
					t.Errorf("left behind: %s", name)
				}
			}
		})
	}
}

// A first run that fails leaves no file at all.
func TestOutputFaultOnEmptyDirLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	err := writeFaultSet(dir, &faultFS{renameErr: syscall.EIO, rename: 4}, 10, "new")
	if err == nil {
		t.Fatal("commit succeeded despite a failing rename")
	}
	if m := snapshot(t, dir); len(m) != 0 {
		t.Errorf("left behind %d files: %v", len(m), keys(m))
	}
}

func TestOutputDirVanishes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	err := writeFaultSet(dir, &faultFS{vanishDir: dir, vanish: 2}, 10, "new")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v: want a not-exist error", err)
	}
	if m := snapshot(t, parent); len(m) != 0 {
		t.Errorf("left behind: %v", keys(m))
	}
}

func TestSuccessfulCommitKeepsNoBackups(t *testing.T) {
	dir := t.TempDir()
	for _, tag := range []string{"one", "two"} {
		if err := writeFaultSet(dir, OSFS{}, 10, tag); err != nil {
			t.Fatal(err)
		}
	}
	m := snapshot(t, dir)
	want := []string{"a.csv", "a.parquet", "b.csv", "b.parquet", "manifest.json"}
	if got := keys(m); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", got, want)
	}
	if !strings.Contains(m["a.csv"], "two-key-000009") || !strings.Contains(m["manifest.json"], `"two"`) {
		t.Error("second commit did not replace the first")
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// noLinkFS is a file system without hard links (some network and FAT
// mounts).
type noLinkFS struct{ OSFS }

func (noLinkFS) Link(o, n string) error {
	return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EPERM}
}

func TestCommitWithoutHardLinks(t *testing.T) {
	dir := t.TempDir()
	if err := writeFaultSet(dir, OSFS{}, 10, "old"); err != nil {
		t.Fatal(err)
	}
	if err := writeFaultSet(dir, noLinkFS{}, 10, "new"); err != nil {
		t.Fatalf("commit on a file system without hard links: %v", err)
	}
	m := snapshot(t, dir)
	if len(m) != 5 || !strings.Contains(m["a.csv"], "new-key-000009") || !strings.Contains(m["manifest.json"], `"new"`) {
		t.Errorf("after the commit: %v", keys(m))
	}
}

// TestNarrowerOutputRetiresOtherFormats: a run writing fewer formats than
// the last one removes the last one's files of the others, so --out never
// holds Parquet files of one run beside CSV files of another; a commit
// that fails, or a run killed before its manifest is in, puts them back.
func TestNarrowerOutputRetiresOtherFormats(t *testing.T) {
	dir := t.TempDir()
	if err := writeFaultSet(dir, OSFS{}, 10, "old"); err != nil {
		t.Fatal(err)
	}
	old := snapshot(t, dir)

	// Renames: a.parquet and b.parquet aside, then a.csv, b.csv and the
	// manifest in; the manifest's fails.
	err := writeSetIn(context.Background(), dir, &faultFS{renameErr: syscall.EIO, rename: 5}, []Format{CSV}, 10, "failed")
	if err == nil {
		t.Fatal("commit succeeded despite a failing rename")
	}
	if got := snapshot(t, dir); !maps.Equal(got, old) {
		t.Errorf("after a failed commit: %v, want the previous set %v", keys(got), keys(old))
	}

	if err := writeSetIn(context.Background(), dir, OSFS{}, []Format{CSV}, 10, "new"); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	if want := []string{"a.csv", "b.csv", "manifest.json"}; !slices.Equal(keys(got), want) {
		t.Errorf("files %v, want %v", keys(got), want)
	}
	if !strings.Contains(got["a.csv"], "new-key-000009") {
		t.Error("a.csv is not the new run's")
	}

}

// TestStoppedCommitLeavesPreviousSet: a commit whose context is done by
// the time its files are encoded and synced moves nothing into place.
func TestStoppedCommitLeavesPreviousSet(t *testing.T) {
	dir := t.TempDir()
	if err := writeFaultSet(dir, OSFS{}, 10, "old"); err != nil {
		t.Fatal(err)
	}
	old := snapshot(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := writeSetIn(ctx, dir, OSFS{}, []Format{CSV}, 5000, "new")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if got := snapshot(t, dir); !maps.Equal(got, old) {
		t.Errorf("after a stopped commit: %v, want the previous set %v", keys(got), keys(old))
	}
}

// TestManifestLateFigures: with the run's start, Commit records the wall
// time and peak RSS in the manifest after every table is encoded and
// before the manifest is written.
func TestManifestLateFigures(t *testing.T) {
	dir := t.TempDir()
	started := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	var finishedA bool
	set, err := NewSet(dir, []Format{Parquet}, WithRunStart(started), func(o *options) {
		o.now = func() time.Time {
			// By then a's Parquet file is complete: its footer is written.
			tmps, _ := filepath.Glob(filepath.Join(dir, stagingDir, "*", "a.parquet"))
			if len(tmps) == 1 {
				b, err := os.ReadFile(tmps[0])
				finishedA = err == nil && len(b) > 8 && string(b[len(b)-4:]) == "PAR1"
			}
			return started.Add(90 * time.Second)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewTable(set, tableOf[testRow]("a"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := a.Write(&testRow{Key: fmt.Sprintf("k%04d", i), N: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Commit(context.Background(), &schema.Manifest{}); err != nil {
		t.Fatal(err)
	}
	if !finishedA {
		t.Error("the wall time was taken before the tables were encoded")
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil || !strings.Contains(string(b), `"wall_seconds": 90,`) {
		t.Errorf("manifest %s, %v: want the wall time recorded", b, err)
	}
	if runtime.GOOS == "linux" && strings.Contains(string(b), `"peak_rss_bytes": 0,`) {
		t.Errorf("manifest %s: want the peak RSS recorded", b)
	}
}
