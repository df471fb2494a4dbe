package report

import (
	"os"
	"sync"
	"testing"
)

// templates are directories kept for the whole test binary, made by
// parallel tests.
var (
	templatesMu sync.Mutex
	templates   []string
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(commitChildEnv); dir != "" {
		os.Exit(commitChild(dir))
	}
	code := m.Run()
	for _, d := range templates {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// commitChildEnv names the directory a child test process commits into
// (see TestMain).
const commitChildEnv = "KEYRATE_TEST_COMMIT_CHILD"

// killNight is the night a killed child commits: a dozen dates of two
// tables, in both formats, with partials, checkpoints and removals.
func killNight(dir string, gen string, opts ...Option) error {
	days := map[int]string{}
	for d := range 12 {
		days[d] = gen
	}
	var removes []string
	if gen == "new" {
		removes = []string{"partials/date=2026-11-23"}
		delete(days, 0)
	}
	return writeDataset(dir, OSFS{}, days, []string{"windows", "violations"}, removes, gen, opts...)
}

// commitChild commits killNight's new night into dir, saying on stdout
// when it reaches the commit point and passes it.
func commitChild(dir string) int {
	say := func(s string) func() { return func() { os.Stdout.WriteString(s + "\n") } }
	err := killNight(dir, "new", func(o *options) {
		o.beforeCommitPoint, o.afterCommitPoint = say("commit"), say("committed")
	})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	say("done")()
	return 0
}
