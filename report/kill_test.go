package report

import (
	"bufio"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCommitSurvivesSIGKILL kills a real process committing a night with
// SIGKILL at random moments (some right after its commit point), then
// recovers as the next run would: the directory holds the previous night
// or the new one, entirely, and the new one when the kill came after the
// commit point.
func TestCommitSurvivesSIGKILL(t *testing.T) {
	c := &commitCase{
		old: func(dir string) error { return killNight(dir, "old") },
		run: func(dir string, _ FS) error { return killNight(dir, "new") },
	}
	old, new := c.states(t, OSFS{})
	// How long an undisturbed child takes, to spread the kills over.
	start := time.Now()
	if out, err := c.child(t, c.prepare(t)).CombinedOutput(); err != nil || !strings.Contains(string(out), "done") {
		t.Fatalf("undisturbed child: %v: %s", err, out)
	}
	span := time.Since(start)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d; an undisturbed child takes %v", seed, span)
	outcomes := map[string]int{}
	for i := range 24 {
		dir := c.prepare(t)
		cmd := c.child(t, dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 4)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		afterCommit := i%3 == 0 // a third right after the commit point
		var seen []string
		if afterCommit {
			for l := range lines {
				seen = append(seen, l)
				if l == "committed" {
					break
				}
			}
		} else {
			time.Sleep(time.Duration(rng.Int64N(int64(span))))
		}
		cmd.Process.Kill() // SIGKILL
		for l := range lines {
			seen = append(seen, l)
		}
		cmd.Wait()
		if _, err := Recover(dir); err != nil {
			t.Fatalf("kill %d: Recover: %v", i, err)
		}
		got := fullTree(t, dir)
		committed := strings.Contains(strings.Join(seen, " "), "committed")
		switch {
		case maps.Equal(got, new):
			outcomes["new"]++
		case committed:
			t.Errorf("kill %d after the commit point (child said %v): %s", i, seen, diffTree(got, new))
		case maps.Equal(got, old):
			outcomes["old"]++
		default:
			t.Errorf("kill %d (child said %v): neither state: %s", i, seen, diffTree(got, old))
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// child is this test binary run as a committing child into dir.
func (c *commitCase) child(t *testing.T, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), commitChildEnv+"="+dir)
	return cmd
}
