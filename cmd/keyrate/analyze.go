package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/html"
	"github.com/keyrate/keyrate/report/schema"
)

const analyzeExamples = `
Examples:
  # Audit one day of gzip'd logs against two limits
  keyrate analyze --limit 100/min --limit 10/s --out reports /var/log/nginx/access.log-20261123*.gz

  # A whole directory (read recursively), keys in ?token= first, then ?api_key=
  keyrate analyze --key query:token,query:api_key --limit 5000/h logs/

  # From standard input, CSV only
  zcat old.gz | keyrate analyze --limit 100/min --output csv -

  # Audit keys against their plans (see docs/policy.md), nginx answering 503
  keyrate analyze --policy plans.toml --throttle-status 503 logs/
`

// analyzeOptions are the parsed flags of 'keyrate analyze': the ones it
// shares with keyrate-beam, and those for running from cron.
type analyzeOptions struct {
	analysis.Options
	unattended unattendedOptions
}

func analyzeFlags(o *analyzeOptions, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("analyze", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	o.Register(fs)
	o.unattended.register(fs)
	o.Warehouse.Register(fs)
	// pflag would print the whole usage on every flag error; keyrate prints
	// the error and a hint instead, and the usage only for --help.
	fs.Usage = func() {}
	return fs
}

func printAnalyzeUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: keyrate analyze [flags] PATH...\n\nPATH is a file, a directory (read recursively), a glob, or - for stdin.\nCompression (gzip, zstd, bzip2) is detected from the content.\n\nFlags:\n%s%s", fs.FlagUsages(), analyzeExamples)
}

// flagValueError words a flag value's parse error for a user: pflag's
// names the Go function that failed (strconv.Atoi: parsing "abc":
// invalid syntax).
func flagValueError(err error) error {
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return err
	}
	f := ive.GetFlag()
	want := map[string]string{
		"int":       "a whole number",
		"int64":     "a whole number",
		"intSlice":  "whole numbers, comma-separated (as in 429,503)",
		"float64":   "a number",
		"bool":      "true or false",
		"duration":  "a duration, as in 30s, 5m or 24h",
		"stringArr": "text",
	}[f.Value.Type()]
	if want == "" {
		return err
	}
	return fmt.Errorf("--%s %q: want %s", f.Name, ive.GetValue(), want)
}

func runAnalyze(ctx context.Context, inv *invocation, args []string) error {
	d, stdout, stderr := inv.diag, inv.stdout, inv.stderr
	started := time.Now()
	var o analyzeOptions
	fs := analyzeFlags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printAnalyzeUsage(stdout, fs)
			return nil
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("analyze: %w", flagValueError(err))}
	}
	if err := d.configure(o.unattended.stderrFormat, o.unattended.quiet); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	c, err := o.Validate(fs.Args())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	cfg := c.Read
	paths, left, err := input.ExpandPaths(fs.Args(), os.Stdin, o.Exclude)
	if err != nil {
		return err
	}
	for _, s := range left {
		d.log.Warn("not read", "path", s.Path, "reason", s.Reason)
	}
	if o.unattended.dryRun {
		return dryRun(ctx, stdout, paths, cfg, o.Out, c.PlannedFiles(o.Warehouse.Part))
	}
	lock, err := lockOutput(o.Out)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := recoverOutput(d, inv.env.outputFS, o.Out); err != nil {
		return err
	}
	removeStaleSpills(d, o.TmpDir)
	cfg.SkipCorrupt = o.unattended.skipCorrupt
	var stopProgress func()
	cfg.Progress, stopProgress = startProgress(stderr, o.unattended.quiet, paths)
	setMemoryLimit(int64(o.Memory))
	c.Read = cfg
	var offenders []html.KeyRow
	if !o.unattended.quiet && onTerminal(stderr) {
		c.Offenders = func(rows []html.KeyRow) { offenders = rows }
	}
	r, err := newRunner(c, inv)
	if err != nil {
		return err
	}
	res, err := r.read(ctx, paths)
	stopProgress()
	if err != nil {
		return inputAdvice(err)
	}
	defer r.close()
	m := analysis.NewManifest(keyrateVersion(), args, res, started)
	for _, s := range left {
		m.SkippedPaths = append(m.SkippedPaths, schema.SkippedPath(s))
	}
	r.noteSkipped(d, m)
	m.Policy = o.Policy
	analysis.WarnVerdictMissing(d.log, &o.Options, res)
	analysis.WarnKeyless(d.log, &o.Options, res)
	analysis.NoticeNoLimits(d.log, c.Eval.Policy)
	analysis.WarnNotArrival(d.log, &o.Options, c.Eval.Policy, res)
	o.Warehouse.Scrub(res, m)
	for _, s := range res.Samples {
		d.log.Info("malformed line", "at", fmt.Sprintf("%s:%d", s.File, s.Line), "reason", s.Reason, "excerpt", s.Excerpt)
	}
	skipped := reportSkipped(d, res.Files)
	if m.Totals.Lines > 0 && float64(m.Totals.Malformed)/float64(m.Totals.Lines) > o.MaxBadRatio {
		return &exitError{code: exitMalformed, err: fmt.Errorf(
			"%d of %d lines malformed (%.4f > --max-bad-ratio %g); no report written",
			m.Totals.Malformed, m.Totals.Lines, float64(m.Totals.Malformed)/float64(m.Totals.Lines), o.MaxBadRatio)}
	}
	// An empty input (a log rotated away, a broken shipper) must not
	// replace a night's reports unnoticed.
	empty := len(res.Files) > 0 && m.Totals.Lines == 0
	if empty {
		if o.Warehouse.Part == report.NoPartition {
			d.log.Warn("the inputs hold no lines: the reports written are empty, replacing the previous ones", "out", o.Out)
		} else {
			d.log.Warn("the inputs read hold no lines: nothing is added to the dataset", "out", o.Out)
		}
	}
	if err := r.write(ctx, inv, res, m, started); err != nil {
		return fmt.Errorf("writing reports to %s: %w", input.QuotePath(o.Out), err)
	}
	if o.Policy != "" && m.UnplannedKeys > 0 {
		d.log.Warn(fmt.Sprintf("%d keys have no plan (not assigned one, no default_plan); listed in keys with an empty plan", m.UnplannedKeys))
	}
	logSummary(d, m, skipped, o.Out, empty)
	logOffenders(d, offenders)
	if skipped > 0 && o.unattended.strictExit {
		return &exitError{code: exitSkipped, err: fmt.Errorf(
			"%d corrupt input(s) skipped (--strict-exit); reports written to %s", skipped, input.QuotePath(o.Out))}
	}
	return nil
}
