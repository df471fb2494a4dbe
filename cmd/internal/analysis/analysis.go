// Package analysis is what 'keyrate analyze' and 'keyrate-beam' share:
// the flags that say what is read and how it is evaluated, their
// checking into a pipeline and evaluation config, the manifest they start
// from, and the writing of one run's reports. Reading differs (one
// process, or a Beam pipeline); what is written from the partial
// aggregate does not.
package analysis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/cmd/internal/job"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/parse/parquetlog"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/html"
	"github.com/keyrate/keyrate/report/schema"
)

// Options are the parsed flags of 'keyrate analyze'.
type Options struct {
	Format         string
	LogFormat      string
	Time           string
	Fields         []string
	KeyPattern     string
	Keys           []string
	Limits         []string
	Out            string
	Outputs        []string
	MaxBadRatio    float64
	Workers        int
	MaxLineBytes   int
	ThrottleStatus []int
	Policy         string
	VerdictField   string
	ReportInterval time.Duration
	AllWindows     bool
	Warehouse      WarehouseOptions
	Memory         ByteSize
	TmpDir         string
	Exclude        []string
}

// Register defines on fs the flags that say what is read and how it is
// evaluated, from --exclude to --report-interval; the warehouse flags are
// o.Warehouse.Register's.
func (o *Options) Register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Exclude, "exclude", nil, "leave out inputs whose path or base name matches GLOB (error.log*, *.tar.gz); repeatable")
	fs.StringVar(&o.Format, "format", parse.FormatAuto, "log format: "+parse.FormatHelp())
	fs.StringVar(&o.LogFormat, "log-format", "", "custom layout: an nginx log_format or Apache LogFormat string")
	fs.StringVar(&o.Time, "time", parse.TimeArrival, "the time limits are replayed at: arrival (the request's, where the log gives or derives it) or logged (as the line carries it)")
	fs.StringArrayVar(&o.Fields, "field", nil, "map a role to a JSON key or Parquet column, ROLE=NAME[,...] (e.g. time=ts,uri=request_uri)")
	fs.StringSliceVar(&o.Keys, "key", parse.DefaultKeySources, "ordered key sources (query:NAME, header:NAME, user, path:/T/{key}/*, field:NAME, cookie:NAME); the first non-empty wins")
	fs.StringVar(&o.KeyPattern, "key-pattern", "", "regular expression a key must match in full; other values count as invalid_key")
	fs.StringArrayVar(&o.Limits, "limit", nil, "fixed-window limit N/UNIT (s, min, h, day; multiples as N/10s); repeatable")
	fs.StringVar(&o.Out, "out", "keyrate-out", "output directory")
	fs.StringSliceVar(&o.Outputs, "output", []string{"csv", "parquet"}, "outputs: csv and parquet tables, html (report.html: the audit with charts, one self-contained page)")
	fs.Float64Var(&o.MaxBadRatio, "max-bad-ratio", 0.01, "fail (exit 3) when more than this fraction of lines is malformed")
	fs.IntVar(&o.Workers, "workers", runtime.NumCPU(), "parallel parse workers (and files decompressed at once)")
	o.Memory = 1 << 30
	fs.Var(&o.Memory, "memory", "memory budget for aggregation (e.g. 64MiB, 1GiB; 0: unbounded); beyond it state spills to --tmp-dir")
	fs.StringVar(&o.TmpDir, "tmp-dir", "", "directory for spilled state (default: the system temp dir)")
	fs.IntVar(&o.MaxLineBytes, "max-line-bytes", parse.DefaultMaxLineBytes, "longer lines are counted as malformed")
	fs.IntSliceVar(&o.ThrottleStatus, "throttle-status", []int{429}, "statuses that mean the gateway rejected the request")
	fs.StringVar(&o.Policy, "policy", "", "policy file (TOML) of plans and limits; see 'keyrate policy check'")
	fs.StringVar(&o.VerdictField, "verdict-field", "", "log field with the limiter's verdict (nginx $limit_req_status); replaces --throttle-status")
	fs.DurationVar(&o.ReportInterval, "report-interval", time.Minute, "report bucket of sliding, token-bucket and leaky-bucket limits")
	fs.BoolVar(&o.AllWindows, "all-windows", false, "list every window of every fixed limit in the windows table (default: only windows at least half full)")
}

// MaxSamples is how many malformed lines are shown and kept.
const MaxSamples = 10

// maxLineBytesLimit bounds --max-line-bytes.
const maxLineBytesLimit = 256 << 20

// Config is 'keyrate analyze' once its flags are checked: what the
// pipeline reads, how the policy is evaluated and how reports are written.
type Config struct {
	Read    pipeline.Config
	Eval    pipeline.EvalConfig
	Formats []report.Format
	// HTML writes report.html beside the tables (--output html).
	HTML bool
	Out  string
	W    *WarehouseOptions
	// Settings are the flags that decide how lines become requests: a
	// dataset refuses runs with other values.
	Settings map[string]string
	// Offenders, when set, receives the keys furthest over their plan
	// once the run is evaluated (what a run on a terminal ends with).
	Offenders func([]html.KeyRow)
}

// Validate checks the flags and turns them into the run's config; args
// are the inputs.
func (o *Options) Validate(args []string) (*Config, error) {
	var cfg pipeline.Config
	if len(args) == 0 {
		return nil, fmt.Errorf("no input: give at least one PATH (or - for stdin)")
	}
	if err := input.CheckExclude(o.Exclude); err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	format, fopts, err := o.formatConfig()
	if err != nil {
		return nil, err
	}
	// The format and the key sources, compiled as the pipeline will.
	if err := pipeline.Check(pipeline.Config{Format: format, FormatOptions: fopts, KeySources: o.Keys}); err != nil {
		return nil, FlagError(err)
	}
	keyPattern, err := parse.CompileKeyPattern(o.KeyPattern)
	if err != nil {
		return nil, FlagError(err)
	}
	var limits []policy.Limit
	seen := map[string]bool{}
	for _, spec := range o.Limits {
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
	if err := o.Warehouse.validateKeys(); err != nil {
		return nil, err
	}
	pol, err := o.loadPolicy(limits)
	if err != nil {
		return nil, err
	}
	formats, html, err := parseOutputs(o.Outputs)
	if err != nil {
		return nil, err
	}
	if !(o.MaxBadRatio >= 0 && o.MaxBadRatio <= 1) { // NaN too
		return nil, fmt.Errorf("--max-bad-ratio %g: want a fraction between 0 and 1", o.MaxBadRatio)
	}
	// A line up to this size is held whole: 100 GB asked for crashed
	// with "out of memory".
	if o.MaxLineBytes < 1 || o.MaxLineBytes > maxLineBytesLimit {
		return nil, fmt.Errorf("--max-line-bytes %d: want 1 to %d (256 MiB)", o.MaxLineBytes, maxLineBytesLimit)
	}
	if o.Workers < 1 {
		return nil, fmt.Errorf("--workers %d: want at least 1", o.Workers)
	}
	for _, code := range o.ThrottleStatus {
		if code < 100 || code > 599 {
			return nil, fmt.Errorf("--throttle-status %d: want an HTTP status, 100 to 599", code)
		}
	}
	if err := o.Warehouse.Validate(pol); err != nil {
		return nil, err
	}
	cfg = pipeline.Config{
		Format:         format,
		FormatOptions:  fopts,
		Stdin:          os.Stdin,
		OpenColumnar:   parquetlog.Open, // --format parquet, and Parquet files found by auto
		KeyPattern:     keyPattern,
		KeySources:     o.Keys,
		MaxLineBytes:   o.MaxLineBytes,
		ThrottleStatus: o.ThrottleStatus,
		Workers:        o.Workers,
		MaxSamples:     MaxSamples,
		HideLineText:   o.Warehouse.Keys.Hides(),
		Filters:        pol.Filters,
		VerdictField:   strings.ToLower(o.VerdictField),
		MemoryBytes:    int64(o.Memory),
		TmpDir:         o.TmpDir,
	}
	return &Config{
		Read:    cfg,
		Eval:    pipeline.EvalConfig{Policy: pol, Workers: o.Workers, Split: o.Warehouse.Part != report.NoPartition},
		Formats: formats,
		HTML:    html,
		Out:     o.Out,
		W:       &o.Warehouse,
		Settings: map[string]string{
			"--format":          o.Format,
			"--log-format":      o.LogFormat,
			"--time":            o.Time,
			"--field":           strings.Join(o.Fields, " "),
			"--key":             strings.Join(o.Keys, ","),
			"--key-pattern":     o.KeyPattern,
			"--throttle-status": fmt.Sprint(o.ThrottleStatus),
			"--verdict-field":   o.VerdictField,
			"--max-line-bytes":  strconv.Itoa(o.MaxLineBytes),
		},
	}, nil
}

// Write evaluates the policy over res into a new set of reports in
// c.Out (through fsys) and commits them with manifest m: one run's
// reports, without --partition (a dataset's are job.Run.Write's).
func (c *Config) Write(ctx context.Context, fsys report.FS, res *pipeline.Result, m *schema.Manifest, started time.Time, log *slog.Logger) (err error) {
	opts := append(c.W.SetOptions(m), report.WithRunStart(started)) // wall_seconds, peak_rss_bytes
	set, err := report.NewSetFS(c.Out, c.Formats, fsys, opts...)
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
	if err := tables.Limits(policy.LimitRows(c.Eval.Policy)); err != nil {
		return err
	}
	var sink policy.Sink = tables
	page := c.newPage(c.W.Keys.Show)
	if page != nil {
		sink = page.observe(tables)
	}
	stats, err := pipeline.Evaluate(ctx, res, c.Eval, sink)
	if err != nil {
		return err
	}
	if err := c.W.RecordDates(set, m, log); err != nil {
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

// policyError words the --policy file's errors on one line each way
// stderr shows them (a log line): the file named once, its problems
// joined.
func policyError(path string, err error) error {
	var pe *os.PathError
	var es policy.Errors
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("--policy %s: %w", input.QuotePath(path), pe.Err)
	case errors.As(err, &es) && len(es) > 1:
		msgs := make([]string, len(es))
		for i, e := range es {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("--policy: %d problems: %s", len(es), strings.Join(msgs, "; "))
	}
	return fmt.Errorf("--policy: %w", err)
}

// loadPolicy returns the policy analyze evaluates: the --policy file, or
// the one-plan policy the --limit flags stand for.
func (o *Options) loadPolicy(limits []policy.Limit) (*policy.Policy, error) {
	if o.ReportInterval < time.Millisecond || o.ReportInterval%time.Millisecond != 0 || o.ReportInterval.Milliseconds() > policy.MaxWindowMillis {
		return nil, fmt.Errorf("--report-interval %s: want a positive whole number of milliseconds, at most 365 days, as in 1m", o.ReportInterval)
	}
	var pol *policy.Policy
	switch {
	case o.Policy != "" && len(limits) > 0:
		return nil, fmt.Errorf("--policy and --limit: give one or the other (a --limit is a one-plan policy)")
	case o.Policy != "":
		p, _, err := policy.Load(o.Policy)
		if err != nil {
			var es policy.Errors
			if errors.As(err, &es) && o.Warehouse.Keys.Hides() {
				keys := o.Warehouse.Keys
				es.ShowKeys(func(k string) string { return string(keys.Map([]byte(k))) })
			}
			return nil, policyError(o.Policy, err)
		}
		pol = p
	case len(limits) > 0:
		pol = policy.FromLimits(limits)
	default:
		pol = &policy.Policy{} // count keys only
	}
	pol.ReportMillis = o.ReportInterval.Milliseconds()
	pol.AllWindows = o.AllWindows
	return pol, nil
}

// WarnVerdictMissing says when --verdict-field names a field that keyed
// lines lack: those lines count as not rejected, which would otherwise
// silently report every throttle as leaked.
func WarnVerdictMissing(log *slog.Logger, o *Options, res *pipeline.Result) {
	if o.VerdictField == "" {
		return
	}
	var missing, keyed int64
	for _, f := range res.Files {
		missing += f.VerdictMissing
		keyed += f.Parsed - f.Keyless
	}
	if missing > 0 {
		log.Warn(fmt.Sprintf("%d of %d keyed lines have no %q field (does --format %s log it?); they count as not rejected",
			missing, keyed, o.VerdictField, o.Format))
	}
}

// WarnKeyless says when most parsed lines gave no key, or only invalid
// ones: a wrong --key or --key-pattern otherwise ends in exit 0 and
// empty reports. It names the sources whose values look like keys in a
// sample of those lines, with counts: names only, never a value, so it
// is safe under any --key-display.
func WarnKeyless(log *slog.Logger, o *Options, res *pipeline.Result) {
	var parsed, keyless, invalid, sample int64
	hints := map[string]int64{}
	for _, f := range res.Files {
		parsed += f.Parsed - f.Expired
		keyless += f.Keyless
		invalid += f.InvalidKey
		sample += f.KeyHintLines
		for spec, n := range f.KeyHints {
			hints[spec] += n
		}
	}
	if parsed == 0 || 2*(keyless+invalid) <= parsed {
		return
	}
	specs := slices.SortedFunc(maps.Keys(hints), func(a, b string) int {
		return cmp.Or(cmp.Compare(hints[b], hints[a]), strings.Compare(a, b))
	})
	var b strings.Builder
	for i, spec := range specs {
		if i == 5 {
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d)", spec, hints[spec])
	}
	seen := "none of their query parameters, headers or fields look like keys"
	if b.Len() > 0 {
		seen = fmt.Sprintf("in %d of them these look like keys: %s", sample, b.String())
	}
	pattern := ""
	if o.KeyPattern != "" {
		pattern = fmt.Sprintf(", --key-pattern %q", o.KeyPattern)
	}
	log.Warn(fmt.Sprintf("%d of %d parsed lines have no key (%d) or an invalid one (%d): check --key (now %s)%s; %s",
		keyless+invalid, parsed, keyless, invalid, strings.Join(o.Keys, ","), pattern, seen))
}

// NoticeNoLimits says that a run without --limit or --policy audits
// nothing. It is a notice, not a usage error: counting requests per key
// (the keys table) is a use of its own.
func NoticeNoLimits(log *slog.Logger, pol *policy.Policy) {
	if !hasRules(pol) {
		log.Info("no --limit or --policy given: requests are counted per key (the keys table), no limit is audited")
	}
}

// WarnNotArrival says when limits are replayed at times known not to be
// the requests' arrival (the time a gateway decides at), once per kind of
// time, with what to log instead. With --time logged that was asked for.
// A time that may be either (CLF's [time]: Apache's %t is the arrival,
// nginx's $time_local is not) is only named in the manifest's
// time_source: a warning every night for every combined log would teach
// people to ignore warnings.
func WarnNotArrival(log *slog.Logger, o *Options, pol *policy.Policy, res *pipeline.Result) {
	if o.Time == parse.TimeLogged || !hasRules(pol) {
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
		log.Warn("limits replayed at times that are not the requests' arrival (see docs/formats.md, logging for an exact audit)",
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

// formatConfig checks --log-format against --format and --field, and returns the
// pipeline format name and options.
func (o *Options) formatConfig() (string, parse.FormatOptions, error) {
	fields, err := parse.ParseFieldMap(o.Fields)
	if err != nil {
		return "", parse.FormatOptions{}, FlagError(err)
	}
	if err := parse.CheckTimeChoice(o.Time); err != nil {
		return "", parse.FormatOptions{}, FlagError(err)
	}
	fopts := parse.FormatOptions{Fields: fields, LogFormat: o.LogFormat, Time: o.Time}
	format := strings.ToLower(o.Format)
	if o.LogFormat != "" {
		if format != parse.FormatAuto && format != parse.FormatLayout {
			return "", fopts, fmt.Errorf("--log-format and --format %s: give one or the other", o.Format)
		}
		format = parse.FormatLayout
	}
	return format, fopts, nil
}

// NewManifest starts the run's manifest from what reading the inputs
// gave; version is the build's, args the command line after "analyze",
// started when the run started (reading ends now).
func NewManifest(version string, args []string, res *pipeline.Result, started time.Time) *schema.Manifest {
	m := &schema.Manifest{
		Version:     version,
		Arguments:   append([]string{"analyze"}, args...),
		ReadSeconds: time.Since(started).Seconds(),
		BadSamples:  res.Samples,
		// Empty lists, not null, when there is nothing to list.
		SkippedPaths: []schema.SkippedPath{},
		SpilledBytes: res.SpilledBytes,
	}
	if m.BadSamples == nil {
		m.BadSamples = []schema.Sample{}
	}
	m.SetInputs(res.Files)
	return m
}

// valueFlags names the flag that gives each kind of setting parse
// reports as a parse.ValueError.
var valueFlags = map[parse.ValueKind]string{
	parse.ValueFormat:     "--format",
	parse.ValueLayout:     "--log-format",
	parse.ValueFieldMap:   "--field",
	parse.ValueKeyPattern: "--key-pattern",
	parse.ValueTime:       "--time",
}

// FlagError returns err, as parse returned it for a setting, in the
// command line's words: parse names the value it rejects (log format
// "x": ...), this the flag that gave it (--log-format "x": ...). Other
// errors come back as they are.
func FlagError(err error) error {
	var ve *parse.ValueError
	if errors.As(err, &ve) {
		if flag, ok := valueFlags[ve.Kind]; ok {
			return fmt.Errorf("%s %q: %w", flag, ve.Value, ve.Err)
		}
	}
	return err
}

// JobConfig is the dataset run (--partition day) that c stands for,
// writing through fsys; the path "-" reads stdin.
func (c *Config) JobConfig(fsys report.FS, stdin io.Reader) *job.Config {
	keys := c.W.Keys
	read := c.Read
	read.KeyMap = keys.Map
	cfg := &job.Config{
		Dir:          c.Out,
		FS:           fsys,
		Formats:      c.Formats,
		Read:         read,
		Policy:       c.Eval.Policy,
		PolicyKeyMap: func(k string) string { return string(keys.Map([]byte(k))) },
		Settings:     c.Settings,
		KeyDisplay:   keys.Fingerprint(),
		PolicyDigest: c.W.Digest,
		RetainDays:   c.W.RetainDays,
		Stdin:        stdin,
	}
	// The rows carry displayed keys: the page shows them as they are.
	if pg := c.newPage(func(k string) string { return k }); pg != nil {
		cfg.Observe, cfg.Finish = pg.observe, pg.finish
	}
	return cfg
}
