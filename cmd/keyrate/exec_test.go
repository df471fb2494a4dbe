package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report"
)

// buildKeyrate compiles the real binary into a temporary directory.
func buildKeyrate(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build keyrate for this test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "keyrate")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKillRealProcess stops a real keyrate process mid-read with a signal
// while its stdin stays open, and checks that it exits promptly with
// 128+N and that the output directory holds exactly the previous reports.
func TestKillRealProcess(t *testing.T) {
	bin := buildKeyrate(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	prev := filepath.Join(dir, "previous.log")
	if err := os.WriteFile(prev, accessLog(200), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(bin, "analyze", "--limit", "10/min", "--out", out, prev).CombinedOutput(); err != nil {
		t.Fatalf("previous run: %v\n%s", err, b)
	}
	previous := dirState(t, out)
	if names(previous) != reportFiles {
		t.Fatalf("previous run left %s", names(previous))
	}
	chunk := accessLog(5000)
	for _, s := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGTERM, 143, "SIGTERM"}, {syscall.SIGINT, 130, "SIGINT"}} {
		t.Run(s.name, func(t *testing.T) {
			cmd := exec.Command(bin, "analyze", "--limit", "10/min", "--out", out, "-")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Writes to a pipe block until the reader drains it, so once
			// 4 MiB went in, keyrate has read most of it: it is mid-run.
			for written := 0; written < 4<<20; written += len(chunk) {
				if _, err := stdin.Write(chunk); err != nil {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("keyrate stopped reading: %v\n%s", err, stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(out, report.LockName)); err != nil {
				t.Errorf("no lock file while running: %v", err)
			}
			// A second process on the same --out is turned away, naming
			// the first one, and changes nothing.
			second := exec.Command(bin, "analyze", "--limit", "10/min", "--out", out, prev)
			msg, err := second.CombinedOutput()
			want := fmt.Sprintf("keyrate: output directory %s is in use by another keyrate run (pid %d; lock %s)\n",
				out, cmd.Process.Pid, filepath.Join(out, report.LockName))
			if second.ProcessState.ExitCode() != exitLocked || string(msg) != want {
				t.Errorf("second run: %v, output %q; want exit %d and %q", err, msg, exitLocked, want)
			}
			if err := cmd.Process.Signal(s.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("keyrate still running 20s after %s with its stdin open", s.name)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != s.code {
				t.Errorf("exit: %v, want code %d; stderr:\n%s", err, s.code, stderr.String())
			}
			if want := "keyrate: interrupted by " + s.name + "; no report written"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr %q: want %q", stderr.String(), want)
			}
			now := dirState(t, out)
			if names(now) != names(previous) {
				t.Errorf("output directory holds %s, want only the previous %s", names(now), names(previous))
			}
			for name, content := range previous {
				if now[name] != content {
					t.Errorf("%s changed", name)
				}
			}
		})
	}
}

// A run killed with SIGKILL while spilling leaves its spill directory,
// raw keys in it; the next run in the same --tmp-dir removes it, and
// says so, but not the directory of a run still alive (issue 20, item 4).
func TestKilledRunsSpillsRemoved(t *testing.T) {
	bin := buildKeyrate(t)
	dir, tmp := t.TempDir(), t.TempDir()
	log := filepath.Join(dir, "a.log")
	if err := os.WriteFile(log, accessLog(2000), 0o644); err != nil {
		t.Fatal(err)
	}
	spilling := func(out string) (*exec.Cmd, io.WriteCloser, string) {
		cmd := exec.Command(bin, "analyze", "--limit", "10/min", "--memory", "1KiB", "--workers", "1",
			"--tmp-dir", tmp, "--out", filepath.Join(dir, out), "-")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		before, _ := filepath.Glob(filepath.Join(tmp, "keyrate-spill-*"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		// Lines of ever new keys until the run has spilled.
		for i := 0; ; i++ {
			fmt.Fprintf(stdin, "192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] \"GET /x?key=k%d-%d HTTP/1.1\" 200 5 \"-\" \"t\"\n", len(before), i)
			now, _ := filepath.Glob(filepath.Join(tmp, "keyrate-spill-*", ".lock"))
			if len(now) > len(before) {
				return cmd, stdin, filepath.Dir(now[len(now)-1])
			}
			if i > 1e6 {
				t.Fatal("the run never spilled")
			}
		}
	}
	first, _, firstDir := spilling("out1")
	second, secondIn, _ := spilling("out2")
	first.Process.Kill() // SIGKILL
	first.Wait()
	if _, err := os.Stat(firstDir); err != nil {
		t.Fatalf("the killed run's spill directory: %v", err)
	}
	out, err := exec.Command(bin, "analyze", "--limit", "10/min", "--tmp-dir", tmp, "--out", filepath.Join(dir, "out3"), log).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "keyrate: warning: removed the spill directories of killed runs dirs=1 ") {
		t.Errorf("next run: %v, %s", err, out)
	}
	if _, err := os.Stat(firstDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's spill directory: %v, want it removed", err)
	}
	// The live run was left alone: it finishes, and removes its own.
	secondIn.Close()
	if err := second.Wait(); err != nil {
		t.Errorf("the live run: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("left in --tmp-dir: %v", left)
	}
}
