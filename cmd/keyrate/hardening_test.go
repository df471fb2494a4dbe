//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
