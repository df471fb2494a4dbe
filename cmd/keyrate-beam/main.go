// Command keyrate-beam is keyrate analyze as an Apache Beam pipeline, for
// archives beyond one machine: the workers (Prism, Dataflow, Flink,
// Spark) read the inputs and add up their partial aggregates by (request
// class, UTC day, API key); the launcher gathers the combined partials
// and writes the same reports as keyrate analyze, flat or as the
// --partition day dataset. See README.md, "Beyond one machine".
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/cmd/internal/job"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

// Exit codes, as keyrate analyze's.
const (
	exitError     = 1
	exitUsage     = 2
	exitMalformed = 3
)

type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyrate-beam:", err)
		var e *exitErr
		if errors.As(err, &e) {
			os.Exit(e.code)
		}
		os.Exit(exitError)
	}
}

// options are keyrate-beam's flags: keyrate analyze's, the inputs and
// where workers leave the combined partials.
type options struct {
	analysis.Options
	inputs  []string
	workDir string
	// blockBytes is the size of the ranges uncompressed inputs are cut
	// into.
	blockBytes int64
	shards     int
	// readFlags are the names of the flags that say how inputs are read:
	// the workers get those.
	readFlags map[string]bool
}

func newFlags(o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet("keyrate-beam", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVar(&o.inputs, "input", nil, "input GLOB (a file, a directory read recursively, a glob; local, gs:// or s3://); repeatable")
	read := pflag.NewFlagSet("read", pflag.ContinueOnError)
	o.Register(read)
	o.readFlags = map[string]bool{}
	read.VisitAll(func(f *pflag.Flag) { o.readFlags[f.Name] = true })
	fs.AddFlagSet(read)
	o.Warehouse.Register(fs)
	fs.StringVar(&o.workDir, "work-dir", "", "directory (local, gs://, s3://) where workers leave the combined partials for the launcher; required unless the workers share this machine's disk (default: a temporary directory)")
	fs.Int64Var(&o.blockBytes, "range-bytes", 64<<20, "uncompressed inputs are read in ranges of this many bytes, each by any worker")
	fs.IntVar(&o.shards, "partial-files", 16, "files the combined partials are written in")
	// Beam's own flags (--runner, --endpoint, --project, ...) parse with
	// ours; none has the name of one of ours.
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) != nil {
			panic("flag --" + f.Name + " is both keyrate's and Beam's")
		}
	})
	fs.AddGoFlagSet(flag.CommandLine)
	return fs
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	started := time.Now()
	var o options
	fs := newFlags(&o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: keyrate-beam --input=GLOB... [flags]\n\nFlags:\n%s", fs.FlagUsages())
			return nil
		}
		return &exitErr{exitUsage, err}
	}
	// Beam ships to workers the Go flags set through flag.CommandLine:
	// set there what pflag set.
	var goArgs []string
	fs.Visit(func(f *pflag.Flag) {
		if flag.CommandLine.Lookup(f.Name) != nil {
			goArgs = append(goArgs, "--"+f.Name+"="+f.Value.String())
		}
	})
	if err := flag.CommandLine.Parse(goArgs); err != nil {
		return &exitErr{exitUsage, err}
	}
	beam.Init() // a worker (--worker) runs here and does not return
	if fs.NArg() > 0 {
		return &exitErr{exitUsage, fmt.Errorf("unexpected argument %q: give inputs as --input=GLOB", fs.Arg(0))}
	}
	if len(o.inputs) == 0 {
		return &exitErr{exitUsage, errors.New("no input: give at least one --input=GLOB")}
	}
	c, err := o.Validate(o.inputs)
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	if o.blockBytes < 1<<10 || o.shards < 1 {
		return &exitErr{exitUsage, errors.New("--range-bytes: want at least 1KiB; --partial-files: at least 1")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	paths, err := expand(ctx, o.inputs, o.Exclude)
	if err != nil {
		return err
	}
	workerArgs, policyText, err := o.workerArgs(fs)
	if err != nil {
		return err
	}
	rd := &reader{o: &o, args: workerArgs, policyText: policyText, log: log}
	lock, err := report.LockDir(o.Out)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", input.QuotePath(o.Out), err)
	}
	defer lock.Unlock()
	if _, err := report.RecoverFS(o.Out, report.OSFS{}); err != nil {
		return fmt.Errorf("output directory %s: %w", o.Out, err)
	}
	if c.W.Part == report.NoPartition {
		res, err := rd.read(ctx, paths, c.Read, true)
		if err != nil {
			return err
		}
		m, err := o.manifest(args, res, started, log)
		if err != nil {
			return err
		}
		return c.Write(ctx, report.OSFS{}, res, m, started, log)
	}
	jr, err := job.Open(c.JobConfig(report.OSFS{}, nil))
	if err != nil {
		return &exitErr{exitUsage, err}
	}
	defer jr.Close()
	// A dataset's ledger knows inputs by the hash of their content, which
	// only a worker reading an input whole can compute.
	if err := jr.ReadWith(ctx, paths, func(ctx context.Context, paths []string, cfg pipeline.Config) (*pipeline.Result, error) {
		return rd.read(ctx, paths, cfg, false)
	}); err != nil {
		return err
	}
	res := jr.Result()
	m, err := o.manifest(args, res, started, log)
	if err != nil {
		return err
	}
	for _, s := range jr.Skipped() {
		m.SkippedPaths = append(m.SkippedPaths, schema.SkippedPath{Path: s.Path, Reason: "already in the dataset: " + s.Kind + " of " + s.Of})
	}
	jr.SetOptions(append(c.W.SetOptions(m), report.WithRunStart(started), report.WithShownKeys())...)
	_, err = jr.Write(ctx, m)
	return err
}

// manifest starts the run's manifest and applies --max-bad-ratio.
func (o *options) manifest(args []string, res *pipeline.Result, started time.Time, log *slog.Logger) (*schema.Manifest, error) {
	m := analysis.NewManifest(version(), args, res, started)
	m.Policy = o.Policy
	analysis.WarnVerdictMissing(log, &o.Options, res)
	o.Warehouse.Scrub(res, m)
	if m.Totals.Lines > 0 && float64(m.Totals.Malformed)/float64(m.Totals.Lines) > o.MaxBadRatio {
		return nil, &exitErr{exitMalformed, fmt.Errorf("%d of %d lines malformed (%.4f > --max-bad-ratio %g); no report written",
			m.Totals.Malformed, m.Totals.Lines, float64(m.Totals.Malformed)/float64(m.Totals.Lines), o.MaxBadRatio)}
	}
	return m, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// workerArgs are the flags that say how inputs are read, as set on this
// command line, and the policy file's text (workers cannot see the
// launcher's files).
func (o *options) workerArgs(fs *pflag.FlagSet) ([]string, string, error) {
	var args []string
	fs.Visit(func(f *pflag.Flag) {
		if !o.readFlags[f.Name] || f.Name == "policy" {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	if o.Policy == "" {
		return args, "", nil
	}
	b, err := os.ReadFile(o.Policy)
	return args, string(b), err
}

// expand lists the inputs: local arguments as keyrate analyze does
// (directories recursively, --exclude), URLs through Beam's filesystems.
func expand(ctx context.Context, globs, exclude []string) ([]string, error) {
	var local []string
	var out []string
	seen := map[string]bool{}
	for _, g := range globs {
		if !strings.Contains(g, "://") {
			local = append(local, g)
			continue
		}
		fsys, err := filesystem.New(ctx, g)
		if err != nil {
			return nil, err
		}
		list, err := fsys.List(ctx, g)
		fsys.Close()
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", g, err)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("--input %s: no file matches", g)
		}
		slices.Sort(list)
		for _, p := range list {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	if len(local) > 0 {
		paths, _, err := input.ExpandPaths(local, nil, exclude)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if p == "-" {
				return nil, errors.New("--input -: standard input cannot be read by workers")
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// reader runs the Beam pipeline over inputs and gathers its result.
type reader struct {
	o          *options
	args       []string
	policyText string
	log        *slog.Logger
}

func (rd *reader) read(ctx context.Context, paths []string, cfg pipeline.Config, split bool) (*pipeline.Result, error) {
	workDir := rd.o.workDir
	if workDir == "" {
		d, err := os.MkdirTemp("", "keyrate-beam-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		workDir = d
	} else {
		workDir = joinPath(workDir, fmt.Sprintf("run-%d", time.Now().UnixNano()))
		if !strings.Contains(workDir, "://") {
			if err := os.MkdirAll(workDir, 0o755); err != nil {
				return nil, err
			}
		}
	}
	p, s := beam.NewPipelineWithRoot()
	files := make([]fileElem, len(paths))
	for i, path := range paths {
		limit, ok := cfg.Limits[path]
		if !ok {
			limit = -1
		}
		files[i] = fileElem{Index: i, Path: path, Limit: limit, Split: split}
	}
	ranges := beam.ParDo(s, &planFn{BlockBytes: rd.o.blockBytes}, beam.CreateList(s, files))
	ranges = beam.Reshuffle(s, ranges)
	partials, results := beam.ParDo2(s, &readFn{Args: rd.args, PolicyText: rd.policyText, MinTime: cfg.MinTime}, ranges)
	combined := beam.CombinePerKey(s, &mergeFn{}, partials)
	sharded := beam.GroupByKey(s, beam.ParDo(s, &shardFn{Shards: rd.o.shards}, combined))
	written := beam.ParDo(s, &writeFn{WorkDir: workDir}, sharded)
	beam.ParDo0(s, &commitFn{WorkDir: workDir}, beam.Impulse(s), beam.SideInput{Input: written}, beam.SideInput{Input: results})
	if err := beamx.Run(ctx, p); err != nil {
		return nil, fmt.Errorf("beam pipeline: %w", err)
	}
	return gather(ctx, workDir, paths, cfg.KeyMap, cfg.MaxSamples)
}

// gather reads what the pipeline committed in workDir into a
// pipeline.Result, as pipeline.Run would have returned it.
func gather(ctx context.Context, workDir string, paths []string, keyMap func([]byte) []byte, maxSamples int) (*pipeline.Result, error) {
	commit, err := readAll(ctx, joinPath(workDir, commitName))
	if err != nil {
		return nil, fmt.Errorf("the pipeline's commit: %w", err)
	}
	var c commitRecord
	if err := json.Unmarshal(commit, &c); err != nil {
		return nil, fmt.Errorf("the pipeline's commit: %w", err)
	}
	byFile := make([][]rangeResult, len(paths))
	for _, s := range c.Ranges {
		var r rangeResult
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return nil, err
		}
		if r.Index < 0 || r.Index >= len(paths) {
			return nil, fmt.Errorf("range of input %d: there are %d", r.Index, len(paths))
		}
		byFile[r.Index] = append(byFile[r.Index], r)
	}
	res := &pipeline.Result{}
	for i, rs := range byFile {
		if len(rs) == 0 {
			return nil, fmt.Errorf("%s: not read by the pipeline", paths[i])
		}
		slices.SortFunc(rs, func(a, b rangeResult) int { return int(a.Start - b.Start) })
		st := rs[0].Stats
		var samples []pipeline.Sample
		line := int64(0) // lines before the range, for the samples' line numbers
		for k, r := range rs {
			if k > 0 {
				if r.Stats.Format != "" && st.Format != "" && r.Stats.Format != st.Format && r.Stats.Parsed > 0 {
					return nil, fmt.Errorf("%s: read as %s at byte 0 but as %s at byte %d: give --format", paths[i], st.Format, r.Stats.Format, r.Start)
				}
				pipeline.MergeStats(&st, &r.Stats)
			}
			for _, s := range r.Samples {
				s.File = paths[i]
				s.Line += line
				samples = append(samples, s)
			}
			line += r.Stats.Lines
		}
		res.Files = append(res.Files, st)
		for _, s := range samples {
			if len(res.Samples) < maxSamples {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	g := newGatherer(keyMap)
	for _, part := range c.Parts {
		b, err := readAll(ctx, part)
		if err != nil {
			return nil, err
		}
		for len(b) > 0 {
			gk, rest, err := field(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", part, err)
			}
			v, rest, err := field(rest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", part, err)
			}
			if err := g.add(string(gk), v); err != nil {
				return nil, fmt.Errorf("%s: %w", part, err)
			}
			b = rest
		}
	}
	res.Classes = g.result()
	res.Source = aggregate.ClassUnion(res.Classes, nil)
	return res, nil
}

func field(b []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, errors.New("truncated record")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func readAll(ctx context.Context, name string) ([]byte, error) {
	fsys, err := filesystem.New(ctx, name)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	r, err := fsys.OpenRead(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
