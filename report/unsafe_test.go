//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The reproduction: a link planted as the lock file made the run
// truncate its target and write its pid there; a dangling one created
// its target.
func TestLockRefusesSymlink(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "out")
	os.Mkdir(out, 0o755)
	lock := filepath.Join(out, LockName)
	if err := os.Symlink(victim, lock); err != nil {
		t.Fatal(err)
	}
	_, err := LockDir(out)
	var ue *UnsafePathError
	if !errors.As(err, &ue) || ue.Path != lock || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("LockDir through a link: %v, want an *UnsafePathError naming %s", err, lock)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the link's target now holds %q", b)
	}

	// A dangling link: its target must not be created.
	os.Remove(lock)
	target := filepath.Join(base, "created-through-link")
	os.Symlink(target, lock)
	if _, err := LockDir(out); !errors.As(err, &ue) {
		t.Fatalf("LockDir through a dangling link: %v, want an *UnsafePathError", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dangling link's target was created (%v)", err)
	}
	if fi, err := os.Lstat(lock); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the refused link was removed or replaced: %v", err)
	}
}

// A lock file hard-linked to another file is not truncated either (where
// the system lets a user link a file they do not own).
func TestLockRefusesHardLink(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	out := filepath.Join(base, "out")
	os.Mkdir(out, 0o755)
	if err := os.Link(victim, filepath.Join(out, LockName)); err != nil {
		t.Skip("no hard links here:", err)
	}
	_, err := LockDir(out)
	var ue *UnsafePathError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "2 names") {
		t.Fatalf("LockDir on a hard link: %v, want an *UnsafePathError", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the linked file now holds %q", b)
	}
}

// Every path a set writes, replaces or removes in its directory is
// refused when it is a symbolic link, and nothing is written through it:
// a table directory (the OUT/windows -> /elsewhere), the staging
// directory, a partition, a flat report, the manifest, and a previous
// run's report the set would retire.
func TestSetRefusesSymlinks(t *testing.T) {
	rows := genWindows(40, 2, day0, 1)
	first, last := day0, day0.Add(24*time.Hour-time.Second)
	part := WithPartition(PartitionDay, first, last)
	cases := []struct {
		name    string
		link    string // relative to the output directory
		dir     bool   // the link points at a directory
		formats []Format
		opts    []Option
	}{
		{"table directory", "windows", true, []Format{CSV}, []Option{part}},
		{"staging directory", stagingDir, true, []Format{CSV}, []Option{part}},
		{"partition", "windows/date=2026-11-23", true, []Format{CSV}, []Option{part}},
		{"flat report", "windows.csv", false, []Format{CSV}, nil},
		{"manifest", manifestName, false, []Format{CSV}, nil},
		{"retired report", "windows.parquet", false, []Format{CSV}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			out := filepath.Join(base, "out")
			elsewhere := filepath.Join(base, "elsewhere")
			os.MkdirAll(filepath.Dir(filepath.Join(out, c.link)), 0o755)
			if c.dir {
				os.Mkdir(elsewhere, 0o755)
			} else {
				os.WriteFile(elsewhere, []byte("precious\n"), 0o644)
			}
			link := filepath.Join(out, c.link)
			if err := os.Symlink(elsewhere, link); err != nil {
				t.Fatal(err)
			}
			set, err := NewSet(out, c.formats, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			tab, err := NewTable(set, tableOf[winRow]("windows"))
			if err == nil {
				for i := range rows {
					if err = tab.Write(&rows[i]); err != nil {
						break
					}
				}
			}
			if err == nil {
				err = set.Commit(context.Background(), rowsManifest("windows", len(rows)))
			} else {
				set.Abort()
			}
			var ue *UnsafePathError
			if !errors.As(err, &ue) || ue.Path != link || !strings.Contains(err.Error(), link) {
				t.Fatalf("set with %s a link: %v, want an *UnsafePathError naming %s", c.link, err, link)
			}
			if c.dir {
				if ents, _ := os.ReadDir(elsewhere); len(ents) > 0 {
					t.Errorf("written through the link: %s holds %v", elsewhere, ents)
				}
			} else if b, _ := os.ReadFile(elsewhere); string(b) != "precious\n" {
				t.Errorf("the link's target now holds %q", b)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link was removed or replaced: %v", err)
			}
		})
	}
}

func TestQuotePath(t *testing.T) {
	for in, want := range map[string]string{
		"out/windows":          "out/windows",
		"dir with space/ü.log": "dir with space/ü.log",
		"a\nkeyrate: done":     `"a\nkeyrate: done"`,
		"esc\x1b[31m":          `"esc\x1b[31m"`,
		"bidi\u202egol.txt":    `"bidi\u202egol.txt"`,
		"bad\xffutf8":          `"bad\xffutf8"`,
	} {
		if got := quotePath(in); got != want {
			t.Errorf("quotePath(%q) = %s, want %s", in, got, want)
		}
	}
}
