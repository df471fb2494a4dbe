package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/html"
	"github.com/keyrate/keyrate/report/schema"
)

// unattendedOptions are the flags for running from cron: how faults are
// handled and what is said on stderr.
type unattendedOptions struct {
	skipCorrupt  bool
	strictExit   bool
	quiet        bool
	stderrFormat string
	dryRun       bool
}

func (o *unattendedOptions) register(fs *pflag.FlagSet) {
	fs.BoolVar(&o.skipCorrupt, "skip-corrupt", false, "read what is valid of corrupt or unreadable inputs, mark them in the manifest, and go on")
	fs.BoolVar(&o.strictExit, "strict-exit", false, "with --skip-corrupt: exit 4 (reports still written) when any input was skipped")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no informational messages; warnings and errors only")
	fs.StringVar(&o.stderrFormat, "stderr-format", "text", "diagnostics on stderr: text or json (one object per line)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "detect compression and format of every input, print what would be read, write nothing")
}

// lockOutput takes the --out directory's lock, mapping contention to its
// own exit code so a cron wrapper can tell "busy" from "broken".
func lockOutput(dir string) (*report.Lock, error) {
	l, err := report.LockDir(dir)
	var le *report.LockedError
	if errors.As(err, &le) {
		return nil, &exitError{code: exitLocked, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", input.QuotePath(dir), err)
	}
	return l, nil
}

// recoverOutput cleans up after a run killed without a chance to (kill
// -9, a crash), while holding the lock.
func recoverOutput(d *diag, fsys report.FS, dir string) error {
	rec, err := report.RecoverFS(dir, fsys)
	if err != nil {
		return fmt.Errorf("output directory %s: cleaning up after a killed run: %w", dir, err)
	}
	if s := rec.String(); s != "" {
		d.log.Warn("cleaned up after a killed run", "dir", dir, "actions", s)
	}
	return nil
}

// removeStaleSpills removes the spill directories that runs killed in
// --tmp-dir left (they hold raw keys), never a live run's; a failure is
// a warning: the run itself may not need the directory.
func removeStaleSpills(d *diag, tmpDir string) {
	dirs, bytes, err := pipeline.RemoveStaleSpills(tmpDir)
	if len(dirs) > 0 {
		d.log.Warn("removed the spill directories of killed runs", "dirs", len(dirs), "bytes", bytes, "first", dirs[0])
	}
	if err != nil {
		d.log.Warn("could not remove the spill directories of killed runs", "error", err)
	}
}

// reportSkipped warns about each input --skip-corrupt gave up on and
// returns how many there were.
func reportSkipped(d *diag, files []pipeline.FileStats) int {
	n := 0
	for _, f := range files {
		if f.Corrupt {
			n++
			d.log.Warn("skipped the rest of a corrupt input", "file", f.Path, "error", f.CorruptError,
				"bytes_read", f.Bytes, "lines_read", f.Lines)
		}
	}
	return n
}

// logSummary is the one line a successful run ends with; a run whose
// inputs held no line says so there too (empty_input=true).
func logSummary(d *diag, m *schema.Manifest, skipped int, out string, empty bool) {
	var extra []any
	if empty {
		extra = []any{"empty_input", true}
	}
	d.log.Info("done", append([]any{
		"files", len(m.Inputs),
		"lines", m.Totals.Lines,
		"keys", m.Totals.Keys,
		"violations", m.Outputs["violations"],
		"malformed", m.Totals.Malformed,
		"skipped_corrupt", skipped,
		"seconds", float64(time.Duration(m.WallSeconds*float64(time.Second)).Round(time.Millisecond)) / float64(time.Second),
		"out", out}, extra...)...)
}

// progressInterval is how often the progress bar is redrawn.
const progressInterval = 200 * time.Millisecond

// startProgress shows a progress bar on stderr while inputs are read, if
// stderr is a terminal and not --quiet; otherwise it returns a nil
// Progress (so the pipeline skips its bookkeeping) and a no-op stop.
func startProgress(stderr io.Writer, quiet bool, paths []string) (*pipeline.Progress, func()) {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !onTerminal(f) {
		return nil, func() {}
	}
	total := int64(0)
	for _, p := range paths {
		st, err := os.Stat(p)
		if p == "-" || err != nil || !st.Mode().IsRegular() {
			total = -1 // a stream: size unknown, the bar becomes a spinner
			break
		}
		total += st.Size()
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(progressInterval),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		// The library's own spinner goroutine reads the bar's state
		// without its lock (a data race) and outlives the bar; the ticker
		// below redraws often enough.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	p := &pipeline.Progress{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				bar.Clear()
				return
			case <-t.C:
				rate := float64(p.Lines()) / time.Since(start).Seconds()
				bar.Describe(fmt.Sprintf("%-24.24s %s lines/s", filepath.Base(p.Current()), humanCount(rate)))
				bar.Set64(p.Bytes())
			}
		}
	}()
	return p, func() {
		close(done)
		wg.Wait()
	}
}

func humanCount(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.1fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// onTerminal reports whether w is a terminal (a person is watching).
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// maxOffenders is how many keys a run on a terminal ends with.
const maxOffenders = 5

// logOffenders ends a run watched on a terminal with the keys furthest
// over their plan, one line each: the first thing a person asks.
func logOffenders(d *diag, keys []html.KeyRow) {
	for i, k := range keys[:min(len(keys), maxOffenders)] {
		d.log.Info(fmt.Sprintf("top %d over the plan", i+1), "key", k.Key, "plan", k.Plan, "requests", k.Requests,
			"over", k.Excess, "caught", k.Caught, "leaked", k.Leaked, "false_throttles", k.FalseThrottles)
	}
}
