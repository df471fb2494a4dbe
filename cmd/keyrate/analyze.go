package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/ingest"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/report"
)

const analyzeExamples = `
Examples:
  # Audit one day of gzip'd logs against two limits
  keyrate analyze --limit 100/min --limit 10/s --out reports /var/log/nginx/access.log-20261123*.gz

  # A whole directory (read recursively), keys in ?token= first, then ?api_key=
  keyrate analyze --key query:token,query:api_key --limit 5000/h logs/

  # From standard input, CSV only
  zcat old.gz | keyrate analyze --limit 100/min --output csv -
`

// analyzeOptions are the parsed flags of 'keyrate analyze'.
type analyzeOptions struct {
	format         string
	keys           []string
	limits         []string
	out            string
	outputs        []string
	maxBadRatio    float64
	workers        int
	maxLineBytes   int
	throttleStatus []int
	memory         byteSize
	tmpDir         string
}

func analyzeFlags(o *analyzeOptions, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("analyze", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&o.format, "format", "combined", "log format: combined (also reads common)")
	fs.StringSliceVar(&o.keys, "key", parse.DefaultKeySources, "ordered key sources; the first non-empty wins")
	fs.StringArrayVar(&o.limits, "limit", nil, "fixed-window limit N/UNIT (s, min, h, day; multiples as N/10s); repeatable")
	fs.StringVar(&o.out, "out", "keyrate-out", "output directory")
	fs.StringSliceVar(&o.outputs, "output", []string{"csv", "parquet"}, "output formats")
	fs.Float64Var(&o.maxBadRatio, "max-bad-ratio", 0.01, "fail (exit 3) when more than this fraction of lines is malformed")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "parallel parse workers (and files decompressed at once)")
	o.memory = 1 << 30
	fs.Var(&o.memory, "memory", "memory budget for aggregation (e.g. 64MiB, 1GiB; 0: unbounded); beyond it state spills to --tmp-dir")
	fs.StringVar(&o.tmpDir, "tmp-dir", "", "directory for spilled state (default: the system temp dir)")
	fs.IntVar(&o.maxLineBytes, "max-line-bytes", parse.DefaultMaxLineBytes, "longer lines are counted as malformed")
	fs.IntSliceVar(&o.throttleStatus, "throttle-status", []int{429}, "statuses that mean the gateway rejected the request")
	// pflag would print the whole usage on every flag error; keyrate prints
	// the error and a hint instead, and the usage only for --help.
	fs.Usage = func() {}
	return fs
}

func printAnalyzeUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: keyrate analyze [flags] PATH...\n\nPATH is a file, a directory (read recursively), a glob, or - for stdin.\nCompression (gzip, zstd, bzip2) is detected from the content.\n\nFlags:\n%s%s", fs.FlagUsages(), analyzeExamples)
}

// maxSamples is how many malformed lines are shown and kept.
const maxSamples = 10

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	started := time.Now()
	var o analyzeOptions
	fs := analyzeFlags(&o, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printAnalyzeUsage(stdout, fs)
			return nil
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("analyze: %w", err)}
	}
	cfg, limits, formats, err := o.validate(fs.Args())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	paths, err := parse.ExpandPaths(fs.Args())
	if err != nil {
		return err
	}
	setMemoryLimit(int64(o.memory))
	res, err := ingest.Run(ctx, paths, cfg)
	if err != nil {
		return err
	}
	defer res.Close()
	m := newManifest(args, &o, res)
	for _, s := range res.Samples {
		fmt.Fprintf(stderr, "keyrate: malformed line %s:%d: %s: %q\n", s.File, s.Line, s.Reason, s.Excerpt)
	}
	if m.Totals.Lines > 0 && float64(m.Totals.Malformed)/float64(m.Totals.Lines) > o.maxBadRatio {
		return &exitError{code: exitMalformed, err: fmt.Errorf(
			"%d of %d lines malformed (%.4f > --max-bad-ratio %g); no report written",
			m.Totals.Malformed, m.Totals.Lines, float64(m.Totals.Malformed)/float64(m.Totals.Lines), o.maxBadRatio)}
	}
	if err := writeReports(o.out, formats, res.Source, limits, m, started); err != nil {
		return fmt.Errorf("writing reports to %s: %w", o.out, err)
	}
	fmt.Fprintf(stderr, "keyrate: %d files, %d lines, %d keys, %d violations, %d malformed, %.1fs\n",
		len(m.Inputs), m.Totals.Lines, m.Outputs["keys"], m.Outputs["violations"], m.Totals.Malformed, m.WallSeconds)
	return nil
}

// validate checks the flags and turns them into the pipeline's config.
func (o *analyzeOptions) validate(args []string) (ingest.Config, []aggregate.Limit, []report.Format, error) {
	var cfg ingest.Config
	if len(args) == 0 {
		return cfg, nil, nil, fmt.Errorf("no input: give at least one PATH (or - for stdin)")
	}
	newParser, err := parserFor(o.format)
	if err != nil {
		return cfg, nil, nil, err
	}
	if _, err := parse.NewKeyExtractor(o.keys); err != nil {
		return cfg, nil, nil, err
	}
	var limits []aggregate.Limit
	seen := map[string]bool{}
	for _, spec := range o.limits {
		lim, err := aggregate.ParseLimit(spec)
		if err != nil {
			return cfg, nil, nil, err
		}
		if seen[lim.Name] {
			return cfg, nil, nil, fmt.Errorf("limit %q given twice", spec)
		}
		seen[lim.Name] = true
		limits = append(limits, lim)
	}
	formats, err := report.ParseFormats(o.outputs)
	if err != nil {
		return cfg, nil, nil, err
	}
	if o.maxBadRatio < 0 || o.maxBadRatio > 1 {
		return cfg, nil, nil, fmt.Errorf("--max-bad-ratio %g: want a fraction between 0 and 1", o.maxBadRatio)
	}
	if o.workers < 1 {
		return cfg, nil, nil, fmt.Errorf("--workers %d: want at least 1", o.workers)
	}
	cfg = ingest.Config{
		NewParser:      newParser,
		KeySources:     o.keys,
		MaxLineBytes:   o.maxLineBytes,
		ThrottleStatus: o.throttleStatus,
		Workers:        o.workers,
		MaxSamples:     maxSamples,
		MemoryBytes:    int64(o.memory),
		TmpDir:         o.tmpDir,
	}
	return cfg, limits, formats, nil
}

func parserFor(format string) (func() parse.LineParser, error) {
	switch strings.ToLower(format) {
	case "combined", "common":
		return func() parse.LineParser { return parse.NewCombined() }, nil
	}
	return nil, fmt.Errorf("--format %q: unknown format (want combined)", format)
}

// tableSink streams aggregate rows into the report tables.
type tableSink struct {
	windows    *report.Table[aggregate.WindowRow]
	violations *report.Table[aggregate.ViolationRow]
	keys       *report.Table[aggregate.KeyRow]
}

func (t *tableSink) Window(r *aggregate.WindowRow) error       { return t.windows.Write(r) }
func (t *tableSink) Violation(r *aggregate.ViolationRow) error { return t.violations.Write(r) }
func (t *tableSink) Key(r *aggregate.KeyRow) error             { return t.keys.Write(r) }

func writeReports(dir string, formats []report.Format, src aggregate.Source, limits []aggregate.Limit, m *manifest, started time.Time) (err error) {
	set, err := report.NewSet(dir, formats)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			set.Abort()
		}
	}()
	var sink tableSink
	if sink.windows, err = report.NewTable[aggregate.WindowRow](set, "windows"); err != nil {
		return err
	}
	if sink.violations, err = report.NewTable[aggregate.ViolationRow](set, "violations"); err != nil {
		return err
	}
	if sink.keys, err = report.NewTable[aggregate.KeyRow](set, "keys"); err != nil {
		return err
	}
	if err := aggregate.Analyze(src, limits, &sink); err != nil {
		return err
	}
	m.Outputs = map[string]int64{
		"windows":    sink.windows.Rows(),
		"violations": sink.violations.Rows(),
		"keys":       sink.keys.Rows(),
	}
	m.Totals.Keys = int(sink.keys.Rows()) // every key has a row; known once merged
	m.WallSeconds = time.Since(started).Seconds()
	m.PeakRSSBytes = peakRSSBytes()
	return set.Commit(m)
}
