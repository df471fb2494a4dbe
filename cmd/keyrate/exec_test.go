package main

import (
	"bytes"
	"errors"
	"fmt"
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
