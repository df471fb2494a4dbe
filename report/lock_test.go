package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockExcludesSecondRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second LockDir: %v, want a *LockedError", err)
	}
	if le.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("message %q: want the directory and pid %d", err, os.Getpid())
	}
	l.Unlock()
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file still there after Unlock: %v", err)
	}
	// LockDir created the directory and nothing was written: it goes.
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty directory created by LockDir still there: %v", err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir after Unlock: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.csv"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "report.csv")); err != nil {
		t.Errorf("Unlock removed a directory holding reports: %v", err)
	}
}

// A lock file left by a killed run (flock is gone with the process) does
// not block the next run.
func TestStaleLockFileIsTaken(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LockName), []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LockDir(dir)
	if err != nil {
		t.Fatalf("stale lock file blocked LockDir: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, LockName))
	if strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", b)
	}
	l.Unlock()
}

func TestLockDirUnderRegularFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LockDir(filepath.Join(file, "out")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("error %v: want not a directory", err)
	}
}
