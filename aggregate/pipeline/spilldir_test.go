//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package pipeline

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// spillChildEnv makes this test binary a run that spills into the named
// directory and then waits to be killed.
const spillChildEnv = "KEYRATE_TEST_SPILL_CHILD"

func init() {
	parent := os.Getenv(spillChildEnv)
	if parent == "" {
		return
	}
	dir, _, err := makeSpillDir(parent)
	if err != nil {
		os.Exit(3)
	}
	os.WriteFile(filepath.Join(dir, "run-1.krr"), make([]byte, 1<<20), 0o600)
	os.Stdout.WriteString(dir + "\n")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// Spill directories of runs killed with SIGKILL were never removed (issue
// 20, item 4: 28 kills, 248 MB of raw keys). A later run removes them,
// but never a live run's, in this process or another, nor what is not a
// spill directory of this user's.
func TestRemoveStaleSpills(t *testing.T) {
	parent := t.TempDir()
	// A run in another process, alive, then killed.
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), spillChildEnv+"="+parent)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("the child made no spill directory")
	}
	killed := sc.Text()
	// A live run of this process, and one that ended without removing
	// its directory (its lock released, as by its death).
	live, release, err := makeSpillDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ended, releaseEnded, err := makeSpillDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	releaseEnded()
	// Not spill directories of a run: without a lock (being created), a
	// link to another directory, a file.
	unlocked := filepath.Join(parent, spillPrefix+"unlocked")
	os.Mkdir(unlocked, 0o700)
	victim := filepath.Join(t.TempDir(), "victim")
	os.Mkdir(victim, 0o700)
	os.WriteFile(filepath.Join(victim, spillLock), nil, 0o600)
	os.Symlink(victim, filepath.Join(parent, spillPrefix+"link"))
	os.WriteFile(filepath.Join(parent, spillPrefix+"file"), []byte("x"), 0o600)

	removed, _, err := RemoveStaleSpills(parent)
	if err != nil || !slices.Equal(removed, []string{ended}) {
		t.Errorf("while the child lives: removed %v (%v), want only %s", removed, err, ended)
	}
	child.Process.Kill() // SIGKILL
	child.Wait()
	removed, n, err := RemoveStaleSpills(parent)
	if err != nil || !slices.Equal(removed, []string{killed}) || n < 1<<20 {
		t.Errorf("after the kill: removed %v, %d bytes (%v), want %s and its 1 MiB", removed, n, err, killed)
	}
	for _, p := range []string{live, unlocked, filepath.Join(victim, spillLock), filepath.Join(parent, spillPrefix+"link"), filepath.Join(parent, spillPrefix+"file")} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	for _, p := range []string{killed, ended} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", p, err)
		}
	}
}
