package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/parse/parquetlog"
	"github.com/keyrate/keyrate/report"
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

// analyzeOptions are the parsed flags of 'keyrate analyze'.
type analyzeOptions struct {
	format         string
	logFormat      string
	time           string
	fields         []string
	keyPattern     string
	keys           []string
	limits         []string
	out            string
	outputs        []string
	maxBadRatio    float64
	workers        int
	maxLineBytes   int
	throttleStatus []int
	policy         string
	verdictField   string
	reportInterval time.Duration
	unattended     unattendedOptions
	warehouse      warehouseOptions
	memory         byteSize
	tmpDir         string
	exclude        []string
}

func analyzeFlags(o *analyzeOptions, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("analyze", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringArrayVar(&o.exclude, "exclude", nil, "leave out inputs whose path or base name matches GLOB (error.log*, *.tar.gz); repeatable")
	fs.StringVar(&o.format, "format", parse.FormatAuto, "log format: "+parse.FormatHelp())
	fs.StringVar(&o.logFormat, "log-format", "", "custom layout: an nginx log_format or Apache LogFormat string")
	fs.StringVar(&o.time, "time", parse.TimeArrival, "the time limits are replayed at: arrival (the request's, where the log gives or derives it) or logged (as the line carries it)")
	fs.StringArrayVar(&o.fields, "field", nil, "map a role to a JSON key or Parquet column, ROLE=NAME[,...] (e.g. time=ts,uri=request_uri)")
	fs.StringSliceVar(&o.keys, "key", parse.DefaultKeySources, "ordered key sources (query:NAME, header:NAME, user, path:/T/{key}/*, field:NAME, cookie:NAME); the first non-empty wins")
	fs.StringVar(&o.keyPattern, "key-pattern", "", "regular expression a key must match in full; other values count as invalid_key")
	fs.StringArrayVar(&o.limits, "limit", nil, "fixed-window limit N/UNIT (s, min, h, day; multiples as N/10s); repeatable")
	fs.StringVar(&o.out, "out", "keyrate-out", "output directory")
	fs.StringSliceVar(&o.outputs, "output", []string{"csv", "parquet"}, "outputs: csv and parquet tables, html (report.html: the audit with charts, one self-contained page)")
	fs.Float64Var(&o.maxBadRatio, "max-bad-ratio", 0.01, "fail (exit 3) when more than this fraction of lines is malformed")
	fs.IntVar(&o.workers, "workers", runtime.NumCPU(), "parallel parse workers (and files decompressed at once)")
	o.memory = 1 << 30
	fs.Var(&o.memory, "memory", "memory budget for aggregation (e.g. 64MiB, 1GiB; 0: unbounded); beyond it state spills to --tmp-dir")
	fs.StringVar(&o.tmpDir, "tmp-dir", "", "directory for spilled state (default: the system temp dir)")
	fs.IntVar(&o.maxLineBytes, "max-line-bytes", parse.DefaultMaxLineBytes, "longer lines are counted as malformed")
	fs.IntSliceVar(&o.throttleStatus, "throttle-status", []int{429}, "statuses that mean the gateway rejected the request")
	fs.StringVar(&o.policy, "policy", "", "policy file (TOML) of plans and limits; see 'keyrate policy check'")
	fs.StringVar(&o.verdictField, "verdict-field", "", "log field with the limiter's verdict (nginx $limit_req_status); replaces --throttle-status")
	fs.DurationVar(&o.reportInterval, "report-interval", time.Minute, "report bucket of sliding, token-bucket and leaky-bucket limits")
	o.unattended.register(fs)
	warehouseFlags(fs, &o.warehouse)
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
		return &exitError{code: exitUsage, err: fmt.Errorf("analyze: %w", err)}
	}
	if err := d.configure(o.unattended.stderrFormat, o.unattended.quiet); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	c, err := o.validate(fs.Args())
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	cfg := c.read
	paths, left, err := input.ExpandPaths(fs.Args(), os.Stdin, o.exclude)
	if err != nil {
		return err
	}
	for _, s := range left {
		d.log.Warn("not read", "path", s.Path, "reason", s.Reason)
	}
	if o.unattended.dryRun {
		return dryRun(ctx, stdout, paths, cfg, o.out, c.formats, o.warehouse.part)
	}
	lock, err := lockOutput(o.out)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := recoverOutput(d, inv.env.outputFS, o.out); err != nil {
		return err
	}
	cfg.SkipCorrupt = o.unattended.skipCorrupt
	var stopProgress func()
	cfg.Progress, stopProgress = startProgress(stderr, o.unattended.quiet, paths)
	setMemoryLimit(int64(o.memory))
	c.read = cfg
	r, err := c.newRunner(inv)
	if err != nil {
		return err
	}
	res, err := r.read(ctx, paths)
	stopProgress()
	if err != nil {
		return inputAdvice(err)
	}
	defer r.close()
	m := newManifest(args, res)
	for _, s := range left {
		m.SkippedPaths = append(m.SkippedPaths, schema.SkippedPath(s))
	}
	r.noteSkipped(d, m)
	m.Policy = o.policy
	warnVerdictMissing(d, &o, res)
	warnNotArrival(d, &o, c.eval.Policy, res)
	o.warehouse.scrub(res, m)
	for _, s := range res.Samples {
		d.log.Info("malformed line", "at", fmt.Sprintf("%s:%d", s.File, s.Line), "reason", s.Reason, "excerpt", s.Excerpt)
	}
	skipped := reportSkipped(d, res.Files)
	if m.Totals.Lines > 0 && float64(m.Totals.Malformed)/float64(m.Totals.Lines) > o.maxBadRatio {
		return &exitError{code: exitMalformed, err: fmt.Errorf(
			"%d of %d lines malformed (%.4f > --max-bad-ratio %g); no report written",
			m.Totals.Malformed, m.Totals.Lines, float64(m.Totals.Malformed)/float64(m.Totals.Lines), o.maxBadRatio)}
	}
	if err := r.write(ctx, inv, res, m, started); err != nil {
		return fmt.Errorf("writing reports to %s: %w", input.QuotePath(o.out), err)
	}
	if o.policy != "" && m.UnplannedKeys > 0 {
		d.log.Warn(fmt.Sprintf("%d keys have no plan (not assigned one, no default_plan); listed in keys with an empty plan", m.UnplannedKeys))
	}
	logSummary(d, m, skipped, o.out)
	if skipped > 0 && o.unattended.strictExit {
		return &exitError{code: exitSkipped, err: fmt.Errorf(
			"%d corrupt input(s) skipped (--strict-exit); reports written to %s", skipped, input.QuotePath(o.out))}
	}
	return nil
}

// maxLineBytesLimit bounds --max-line-bytes.
const maxLineBytesLimit = 256 << 20

// analyzeConfig is 'keyrate analyze' once its flags are checked: what the
// pipeline reads, how the policy is evaluated and how reports are written.
type analyzeConfig struct {
	read    pipeline.Config
	eval    pipeline.EvalConfig
	formats []report.Format
	// html writes report.html beside the tables (--output html).
	html bool
	out  string
	w    *warehouseOptions
	// settings are the flags that decide how lines become requests: a
	// dataset refuses runs with other values.
	settings map[string]string
}

// validate checks the flags and turns them into the run's config.
func (o *analyzeOptions) validate(args []string) (*analyzeConfig, error) {
	var cfg pipeline.Config
	if len(args) == 0 {
		return nil, fmt.Errorf("no input: give at least one PATH (or - for stdin)")
	}
	if err := input.CheckExclude(o.exclude); err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	format, fopts, err := o.formatConfig()
	if err != nil {
		return nil, err
	}
	// The format and the key sources, compiled as the pipeline will.
	if err := pipeline.Check(pipeline.Config{Format: format, FormatOptions: fopts, KeySources: o.keys}); err != nil {
		return nil, flagError(err)
	}
	keyPattern, err := parse.CompileKeyPattern(o.keyPattern)
	if err != nil {
		return nil, flagError(err)
	}
	var limits []policy.Limit
	seen := map[string]bool{}
	for _, spec := range o.limits {
		lim, err := policy.ParseLimit(spec)
		if err != nil {
			return nil, err
		}
		if seen[lim.Name] {
			return nil, fmt.Errorf("limit %q given twice", spec)
		}
		seen[lim.Name] = true
		limits = append(limits, lim)
	}
	pol, err := o.loadPolicy(limits)
	if err != nil {
		return nil, err
	}
	formats, html, err := parseOutputs(o.outputs)
	if err != nil {
		return nil, err
	}
	if !(o.maxBadRatio >= 0 && o.maxBadRatio <= 1) { // NaN too
		return nil, fmt.Errorf("--max-bad-ratio %g: want a fraction between 0 and 1", o.maxBadRatio)
	}
	// A line up to this size is held whole: 100 GB asked for crashed
	// with "out of memory".
	if o.maxLineBytes < 1 || o.maxLineBytes > maxLineBytesLimit {
		return nil, fmt.Errorf("--max-line-bytes %d: want 1 to %d (256 MiB)", o.maxLineBytes, maxLineBytesLimit)
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("--workers %d: want at least 1", o.workers)
	}
	for _, code := range o.throttleStatus {
		if code < 100 || code > 599 {
			return nil, fmt.Errorf("--throttle-status %d: want an HTTP status, 100 to 599", code)
		}
	}
	if err := o.warehouse.validate(pol); err != nil {
		return nil, err
	}
	cfg = pipeline.Config{
		Format:         format,
		FormatOptions:  fopts,
		Stdin:          os.Stdin,
		OpenColumnar:   parquetlog.Open, // --format parquet, and Parquet files found by auto
		KeyPattern:     keyPattern,
		KeySources:     o.keys,
		MaxLineBytes:   o.maxLineBytes,
		ThrottleStatus: o.throttleStatus,
		Workers:        o.workers,
		MaxSamples:     maxSamples,
		Filters:        pol.Filters,
		VerdictField:   strings.ToLower(o.verdictField),
		MemoryBytes:    int64(o.memory),
		TmpDir:         o.tmpDir,
	}
	return &analyzeConfig{
		read:    cfg,
		eval:    pipeline.EvalConfig{Policy: pol, Workers: o.workers, Split: o.warehouse.part != report.NoPartition},
		formats: formats,
		html:    html,
		out:     o.out,
		w:       &o.warehouse,
		settings: map[string]string{
			"--format":          o.format,
			"--log-format":      o.logFormat,
			"--time":            o.time,
			"--field":           strings.Join(o.fields, " "),
			"--key":             strings.Join(o.keys, ","),
			"--key-pattern":     o.keyPattern,
			"--throttle-status": fmt.Sprint(o.throttleStatus),
			"--verdict-field":   o.verdictField,
			"--max-line-bytes":  strconv.Itoa(o.maxLineBytes),
		},
	}, nil
}

// write evaluates the policy over res into a new set of reports and
// commits them with manifest m.
func (c *analyzeConfig) write(ctx context.Context, inv *invocation, res *pipeline.Result, m *schema.Manifest, started time.Time) (err error) {
	opts := append(c.w.setOptions(m), report.WithRunStart(started)) // wall_seconds, peak_rss_bytes
	set, err := report.NewSetFS(c.out, c.formats, inv.env.outputFS, opts...)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			set.Abort()
		}
	}()
	tables, err := report.NewTables(set)
	if err != nil {
		return err
	}
	var sink policy.Sink = tables
	page := c.newPage(c.w.keys.Show)
	if page != nil {
		sink = page.observe(tables)
	}
	stats, err := pipeline.Evaluate(ctx, res, c.eval, sink)
	if err != nil {
		return err
	}
	if err := c.w.recordDates(set, m, inv.diag); err != nil {
		return err
	}
	m.UnplannedKeys = stats.UnplannedKeys
	m.Outputs = tables.Rows()
	m.Totals.Keys = int(stats.Keys) // not the keys table's rows: with day partitions a key has one per date
	if page != nil {
		if err := page.finish(set, m, res.Source); err != nil {
			return err
		}
	}
	return set.Commit(ctx, m)
}

// loadPolicy returns the policy analyze evaluates: the --policy file, or
// the one-plan policy the --limit flags stand for.
func (o *analyzeOptions) loadPolicy(limits []policy.Limit) (*policy.Policy, error) {
	if o.reportInterval < time.Millisecond || o.reportInterval%time.Millisecond != 0 || o.reportInterval.Milliseconds() > policy.MaxWindowMillis {
		return nil, fmt.Errorf("--report-interval %s: want a positive whole number of milliseconds, at most 365 days, as in 1m", o.reportInterval)
	}
	var pol *policy.Policy
	switch {
	case o.policy != "" && len(limits) > 0:
		return nil, fmt.Errorf("--policy and --limit: give one or the other (a --limit is a one-plan policy)")
	case o.policy != "":
		p, _, err := policy.Load(o.policy)
		if err != nil {
			return nil, fmt.Errorf("--policy:\n%w", err)
		}
		pol = p
	case len(limits) > 0:
		pol = policy.FromLimits(limits)
	default:
		pol = &policy.Policy{} // count keys only
	}
	pol.ReportMillis = o.reportInterval.Milliseconds()
	return pol, nil
}

// warnVerdictMissing says when --verdict-field names a field that keyed
// lines lack: those lines count as not rejected, which would otherwise
// silently report every throttle as leaked.
func warnVerdictMissing(d *diag, o *analyzeOptions, res *pipeline.Result) {
	if o.verdictField == "" {
		return
	}
	var missing, keyed int64
	for _, f := range res.Files {
		missing += f.VerdictMissing
		keyed += f.Parsed - f.Keyless
	}
	if missing > 0 {
		d.log.Warn(fmt.Sprintf("%d of %d keyed lines have no %q field (does --format %s log it?); they count as not rejected",
			missing, keyed, o.verdictField, o.format))
	}
}

// warnNotArrival says when limits are replayed at times known not to be
// the requests' arrival (the time a gateway decides at), once per kind of
// time, with what to log instead. With --time logged that was asked for.
// A time that may be either (CLF's [time]: Apache's %t is the arrival,
// nginx's $time_local is not) is only named in the manifest's
// time_source: a warning every night for every combined log would teach
// people to ignore warnings.
func warnNotArrival(d *diag, o *analyzeOptions, pol *policy.Policy, res *pipeline.Result) {
	if o.time == parse.TimeLogged || !hasRules(pol) {
		return
	}
	type group struct {
		inputs int
		lines  int64
		first  string
		advice string
	}
	groups := map[string]*group{}
	var order []string
	for _, f := range res.Files {
		if f.TimeLogged == 0 {
			continue
		}
		g := groups[f.TimeSource]
		if g == nil {
			g = &group{first: f.Path, advice: f.TimeAdvice}
			groups[f.TimeSource] = g
			order = append(order, f.TimeSource)
		}
		g.inputs++
		g.lines += f.TimeLogged
	}
	for _, src := range order {
		g := groups[src]
		d.log.Warn("limits replayed at times that are not the requests' arrival (see docs/formats.md, logging for an exact audit)",
			"time_source", src, "inputs", g.inputs, "lines", g.lines, "first", g.first, "log", g.advice)
	}
}

// hasRules reports whether pol has a limit to replay.
func hasRules(pol *policy.Policy) bool {
	for _, p := range pol.Plans {
		if len(p.Rules) > 0 {
			return true
		}
	}
	return false
}
