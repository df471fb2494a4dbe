// Package ingest is keyrate's pipeline: open → decompress → split lines →
// parse → extract key and time → aggregate. It is the one place that
// knows about concurrency: each worker reads whole files into its own
// aggregate.State, and the states are merged at the end, which is exact
// because partial aggregates merge by addition.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"regexp"
	"sync"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
)

// Config says how to read inputs.
type Config struct {
	// NewParser returns a fresh parser; each file gets its own. It is
	// used when Format is empty (with neither, formats are detected).
	NewParser func() parse.LineParser
	// Format is --format: "auto" (detect per file from its first lines),
	// "parquet", or a built-in format name; FormatOptions configure it.
	Format        string
	FormatOptions parse.FormatOptions
	// OpenColumnar opens a columnar (Parquet) input; needed when Format
	// is "parquet" or "auto".
	OpenColumnar func(path string, o parse.FormatOptions) (parse.RecordSource, error)
	// KeyPattern, when set, rejects extracted values that are not keys.
	KeyPattern *regexp.Regexp
	// KeySources are --key specs, in priority order.
	KeySources []string
	// MaxLineBytes bounds line length (0: parse.DefaultMaxLineBytes).
	MaxLineBytes int
	// ThrottleStatus lists statuses meaning "rejected by the limiter".
	ThrottleStatus []int
	// Workers is how many files are read at once (<= 0: 1).
	Workers int
	// MaxSamples bounds the malformed-line samples kept (0: none).
	MaxSamples int
	// Filters are the request filters of scoped limits; each gets its
	// own partial aggregate in Result.Filtered.
	Filters []aggregate.RequestFilter
	// VerdictField, if set, names the record field holding the
	// limiter's own verdict (nginx $limit_req_status); it replaces
	// ThrottleStatus in deciding what the gateway rejected.
	VerdictField string
	// SkipCorrupt keeps going after a file fails to open or decompress:
	// what was read before the error counts, the file is marked Corrupt.
	SkipCorrupt bool
	// Progress, if not nil, is updated as inputs are read.
	Progress *Progress
}

// FileStats describes one input after reading.
type FileStats struct {
	Path        string `json:"path"`
	Compression string `json:"compression"`
	Bytes       int64  `json:"bytes"` // as stored (compressed) bytes read
	Lines       int64  `json:"lines"`
	Parsed      int64  `json:"parsed"`
	Malformed   int64  `json:"malformed"`
	Keyless     int64  `json:"keyless"`
	// Corrupt is set when SkipCorrupt stopped reading this file at an
	// error; Bytes and Lines then count what was read before it.
	Corrupt      bool   `json:"corrupt"`
	CorruptError string `json:"corrupt_error,omitempty"`
	// Format is the format the file was read as (detected with --format
	// auto); TimePrecision is "ms" when its times carry fractions of a
	// second, "s" when not ("" when no line parsed).
	Format        string `json:"format"`
	TimePrecision string `json:"time_precision"`
	Skipped       int64  `json:"skipped"`      // header/notice lines holding no request
	InvalidKey    int64  `json:"invalid_key"`  // values rejected by --key-pattern
	InvalidUTF8   int64  `json:"invalid_utf8"` // keys with invalid UTF-8, replaced by U+FFFD
	NULBytes      int64  `json:"nul_lines"`    // lines with leading NUL padding, stripped
	// MinTime and MaxTime bound the parsed lines' times (epoch ms);
	// meaningful only when Parsed > 0.
	MinTime int64 `json:"-"`
	MaxTime int64 `json:"-"`
	// VerdictMissing counts keyed lines without the --verdict-field
	// value; such lines count as not rejected.
	VerdictMissing int64 `json:"verdict_missing,omitempty"`
}

// Sample is one malformed line kept for the manifest and stderr.
type Sample struct {
	File    string `json:"file"`
	Line    int64  `json:"line"`
	Reason  string `json:"reason"`
	Excerpt string `json:"excerpt"`
}

// Result is the merged outcome of reading every input.
type Result struct {
	State *aggregate.State
	// Filtered[i] holds the requests matching Config.Filters[i].
	Filtered []*aggregate.State
	Files    []FileStats
	Samples  []Sample
}

// Run reads paths with cfg and returns their merged aggregate. The first
// read error (a missing file, a corrupt compressed stream) stops the run;
// malformed lines do not, they are counted.
func Run(ctx context.Context, paths []string, cfg Config) (*Result, error) {
	// Validate the key sources before any file is opened.
	if _, err := parse.NewKeyExtractor(cfg.KeySources); err != nil {
		return nil, err
	}
	if cfg.Format != "" && cfg.Format != parse.FormatAuto && cfg.Format != parse.FormatParquet {
		if _, err := parse.LookupFormat(cfg.Format, cfg.FormatOptions); err != nil {
			return nil, err
		}
	}
	workers := min(max(cfg.Workers, 1), len(paths))
	type fileResult struct {
		stats   FileStats
		samples []Sample
	}
	results := make([]fileResult, len(paths))
	states := make([]*aggregate.State, workers)
	readers := make([]*reader, workers)
	errs := make([]error, len(paths))
	next := make(chan int)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		states[w] = aggregate.NewState()
		r := newReader(cfg, states[w])
		readers[w] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i].stats, results[i].samples, errs[i] = r.readFile(ctx, paths[i])
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range paths {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	if !waitUnlessCanceled(parent, &wg) {
		// A worker may be blocked reading a pipe that never ends; the
		// caller is stopping anyway, so it does not wait for it.
		return nil, parent.Err()
	}
	// Report the first failing file in input order, so the message is
	// deterministic whatever the scheduling; files abandoned because of
	// that failure report only context.Canceled.
	var canceled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			canceled = err
		default:
			return nil, err
		}
	}
	if canceled != nil {
		return nil, canceled
	}
	// Files never handed out left no error behind: a run stopped by the
	// caller (a signal) must not look complete.
	if err := parent.Err(); err != nil {
		return nil, err
	}
	res := &Result{State: states[0]}
	for _, st := range states[1:] {
		res.State.Merge(st)
	}
	res.Filtered = mergeFiltered(readers)
	for _, fr := range results {
		res.Files = append(res.Files, fr.stats)
		for _, s := range fr.samples {
			if len(res.Samples) < cfg.MaxSamples {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	return res, nil
}

// reader is one worker's parsing state, reused across its files.
type reader struct {
	cfg      Config
	keys     *parse.KeyExtractor
	state    *aggregate.State
	throttle map[int]bool
	rec      parse.Record
	obs      aggregate.Observation
	filters  filterSet
	// verdictMissing counts the current file's keyed lines lacking the
	// verdict field.
	verdictMissing int64
	pub            published // what publish last told cfg.Progress
}

func newReader(cfg Config, st *aggregate.State) *reader {
	keys, _ := parse.NewKeyExtractor(cfg.KeySources) // validated by Run
	keys.SetPattern(cfg.KeyPattern)
	cfg.FormatOptions.Want = append(cfg.FormatOptions.Want[:len(cfg.FormatOptions.Want):len(cfg.FormatOptions.Want)], keys.Fields()...)
	throttle := map[int]bool{}
	for _, s := range cfg.ThrottleStatus {
		throttle[s] = true
	}
	return &reader{cfg: cfg, keys: keys, state: st, throttle: throttle, filters: newFilterSet(cfg.Filters)}
}

// excerptBytes bounds how much of a malformed line a sample keeps.
const excerptBytes = 120

func (r *reader) readFile(ctx context.Context, path string) (FileStats, []Sample, error) {
	st := FileStats{Path: path, MinTime: math.MaxInt64, MaxTime: math.MinInt64}
	r.verdictMissing = 0
	in, err := parse.Open(path)
	if err != nil {
		return st, nil, r.skip(&st, err)
	}
	defer in.Close()
	st.Path, st.Compression = in.Name, string(in.Compression)
	lr := parse.NewLineReader(in, r.cfg.MaxLineBytes)
	parser, columnar, err := r.chooseFormat(in, lr, &st)
	if err != nil {
		// A stream corrupt from its first bytes is a corrupt input, which
		// --skip-corrupt may skip; an unknown format is not.
		var re *parse.ReadError
		if errors.As(err, &re) {
			return st, nil, r.skip(&st, err)
		}
		return st, nil, err
	}
	if columnar {
		in.Close()
		return r.readColumnar(ctx, path, st)
	}
	var samples []Sample
	malformed := func(line []byte, reason string) {
		st.Malformed++
		if len(samples) < r.cfg.MaxSamples {
			ex := line
			if len(ex) > excerptBytes {
				ex = ex[:excerptBytes]
			}
			samples = append(samples, Sample{File: in.Name, Line: lr.Line(), Reason: reason, Excerpt: string(ex)})
		}
	}
	for {
		if st.Lines&0xfff == 0 {
			if ctx.Err() != nil {
				return st, nil, ctx.Err()
			}
			r.publish(in, &st)
		}
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err == parse.ErrLineTooLong {
			st.Lines++
			malformed(nil, err.Error())
			continue
		}
		if err != nil {
			st.Bytes = in.CompressedBytes()
			r.publish(in, &st)
			return st, samples, r.skip(&st, err)
		}
		st.Lines++
		if len(line) == 0 {
			continue // blank lines (often a trailing one) carry nothing
		}
		if line[0] == 0 {
			// NUL padding, as copytruncate leaves after a crash, before
			// the real line.
			st.NULBytes++
			line = bytes.TrimLeft(line, "\x00")
			if len(line) == 0 {
				continue
			}
		}
		if err := parser.Parse(line, &r.rec); err != nil {
			if err == parse.ErrNoRecord {
				st.Skipped++
				continue
			}
			malformed(line, err.Error())
			continue
		}
		r.observe(&st)
	}
	st.Bytes = in.CompressedBytes()
	r.publish(in, &st)
	r.finishStats(&st)
	return st, samples, nil
}
