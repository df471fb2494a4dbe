// Package pipeline is keyrate's reading stage: inputs in, partial
// aggregates out (open → decompress → detect the format → cut into blocks
// of whole lines → parse → extract key and time → aggregate), and the
// scheduling of their evaluation. It is the one place that starts
// goroutines to read and to evaluate (report encodes its tables on its
// own goroutines; cmd draws the progress bar):
//
//   - reader goroutines open and decompress files (several at once),
//     detect each file's format once, from its head, and cut the stream
//     into blocks of whole lines (parse/input.Cutter); a block of a
//     stateful format (W3C, CloudFront) carries the header state in force
//     at its start;
//   - parse workers aggregate blocks of any file into their own
//     aggregate.State; a columnar (Parquet) file is read whole by its
//     reader goroutine into the reader's own State;
//   - Evaluate runs the policy over the merged result, over key ranges on
//     several cores when that pays.
//
// Each keyed request goes to the State of its request class (the scoped
// limits' filters that count it; class 0 only without scoped limits).
// The States that outgrow their holder's share of the memory budget are
// spilled to sorted runs on disk; at the end each class's States and
// runs are merged k-way, lazily, each time the result is read. All of
// this is exact whatever the split because partial aggregates merge by
// addition.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report/schema"
)

// Config says how to read inputs.
type Config struct {
	// NewParser returns a fresh parser; each file (or block) gets its own.
	// It is used when Format is empty (with neither, formats are
	// detected).
	NewParser func() parse.LineParser
	// Format is --format: "auto" (detect per file from its first lines),
	// "parquet", or a built-in format name; FormatOptions configure it.
	Format        string
	FormatOptions parse.FormatOptions
	// Stdin is what the path "-" reads (nil: "-" cannot be read).
	Stdin io.Reader
	// OpenColumnar opens a columnar (Parquet) input; needed when Format
	// is "parquet" or "auto".
	OpenColumnar func(path string, o parse.FormatOptions) (parse.RecordSource, error)
	// KeyPattern, when set, rejects extracted values that are not keys.
	KeyPattern *regexp.Regexp
	// KeySources are --key specs, in priority order.
	KeySources []string
	// KeyMap, if set, is the key display (--key-display) applied to
	// every key as it enters the partial aggregate, once per distinct key
	// and State (aggregate.WithKeyMap): the result, spills included,
	// holds only mapped keys. It is called from several goroutines at
	// once, and must not keep its argument.
	KeyMap func(raw []byte) []byte
	// MaxLineBytes bounds line length (0: parse.DefaultMaxLineBytes).
	MaxLineBytes int
	// ThrottleStatus lists statuses meaning "rejected by the limiter"
	// (HTTP statuses, 100 to 599; the CLI refuses others).
	ThrottleStatus []int
	// Workers is how many goroutines parse and aggregate blocks (<= 0:
	// 1); as many files are read and decompressed at once.
	Workers int
	// MaxSamples bounds the malformed-line samples kept (0: none).
	MaxSamples int
	// HideLineText keeps the lines' text out of malformed-line reasons
	// and detection errors (parse.Reason): keys are hidden, and a key
	// may sit in any field.
	HideLineText bool
	// Filters are the request filters of scoped limits, at most
	// aggregate.MaxFilters: bit i of a request's class is set when
	// Filters[i] counts it (Result.Classes).
	Filters []policy.RequestFilter
	// VerdictField, if set, names the record field holding the
	// limiter's own verdict (nginx $limit_req_status); it replaces
	// ThrottleStatus in deciding what the gateway rejected.
	VerdictField string
	// SkipCorrupt keeps going after a file fails to open or decompress:
	// what was read before the error counts, the file is marked Corrupt.
	SkipCorrupt bool
	// Progress, if not nil, is updated as inputs are read.
	Progress *Progress
	// MemoryBytes is the budget for aggregation state and block buffers;
	// a State whose holder outgrows its share spills to TmpDir. 0 means
	// unbounded (never spill).
	MemoryBytes int64
	// TmpDir holds spilled runs ("": the system temp dir).
	TmpDir string
	// BlockBytes is the size of the blocks streams are cut into
	// (0: DefaultBlockBytes, possibly less to fit MemoryBytes).
	BlockBytes int
	// MinTime, if not 0, is a dataset's retention horizon (epoch ms):
	// parsed lines before it are counted in FileStats.Expired, not
	// aggregated.
	MinTime int64
	// Limits bound how much of an input is read: the input at path p (as
	// given to Run) is read up to its first Limits[p] decompressed bytes,
	// as FileStats.Length counts them. It is how a dataset reads again
	// what it read of a file before the file grew: the last line, with
	// its terminator or without, is a line, exactly as when it was read
	// at that length. FileStats.Length then says how much was there. A
	// Parquet input is read whole (a limit short of it is an error).
	Limits map[string]int64
}

// DefaultBlockBytes is the default block size: large enough to amortise
// the hand-off between goroutines (~1,700 lines), small enough to stay in
// a core's L2 cache between the reader that fills it (and counts its
// lines) and the worker that parses it. 2 MiB blocks did not: the reader
// and the worker each fetched every block from memory.
const DefaultBlockBytes = 256 << 10

// FileStats describes one input after reading: the manifest's record of
// it, which the pipeline fills directly.
type FileStats = schema.InputStats

// addStats folds the line counts of a block into s.
func addStats(s, o *FileStats) {
	s.Lines += o.Lines
	s.Parsed += o.Parsed
	s.Malformed += o.Malformed
	s.Keyless += o.Keyless
	s.Skipped += o.Skipped
	s.InvalidKey += o.InvalidKey
	s.InvalidUTF8 += o.InvalidUTF8
	s.NULBytes += o.NULBytes
	s.VerdictMissing += o.VerdictMissing
	s.Expired += o.Expired
	s.KeyHintLines += o.KeyHintLines
	for spec, n := range o.KeyHints {
		if s.KeyHints == nil {
			s.KeyHints = map[string]int64{}
		}
		s.KeyHints[spec] += n
	}
	if o.TimePrecision == "ms" {
		s.TimePrecision = "ms"
	}
	for src := range strings.SplitSeq(o.TimeSource, "; ") {
		s.TimeSource = addTimeSource(s.TimeSource, src)
	}
	s.TimeNotArrival += o.TimeNotArrival
	s.TimeLogged += o.TimeLogged
	if s.TimeAdvice == "" {
		s.TimeAdvice = o.TimeAdvice
	}
	s.MinTime, s.MaxTime = min(s.MinTime, o.MinTime), max(s.MaxTime, o.MaxTime)
}

// MergeStats folds into s the statistics of o, another part of the same
// input read apart (a byte range of it, by a distributed reader): the
// counts and bytes add, dates merge, a corrupt part makes the input
// corrupt. The content identity (Hash, Head) of one part is not the
// input's, so it is dropped once two parts merge; Length adds.
func MergeStats(s, o *FileStats) {
	addStats(s, o)
	s.Bytes += o.Bytes
	s.Length += o.Length
	s.Hash, s.Head = "", ""
	if s.Format == "" {
		s.Format = o.Format
	}
	if s.TimePrecision == "" {
		s.TimePrecision = o.TimePrecision
	}
	if s.Compression == "" {
		s.Compression = o.Compression
	}
	if o.Corrupt && !s.Corrupt {
		s.Corrupt, s.CorruptError = true, o.CorruptError
	}
	days := map[int64]int64{}
	for _, ds := range [][]schema.DateCount{s.Dates, o.Dates} {
		for _, d := range ds {
			t, err := time.Parse(time.DateOnly, d.Date)
			if err == nil {
				days[t.UnixMilli()/dayMillis] += d.Lines
			}
		}
	}
	s.Dates = dateCounts(days)
}

// addTimeSource adds src to list, the sorted time sources of an input
// joined by "; " (FileStats.TimeSource), unless it holds it already.
func addTimeSource(list, src string) string {
	if src == "" {
		return list
	}
	all := []string{}
	if list != "" {
		all = strings.Split(list, "; ")
	}
	if slices.Contains(all, src) {
		return list
	}
	all = append(all, src)
	slices.Sort(all)
	return strings.Join(all, "; ")
}

// Sample is one malformed line kept for the manifest and stderr.
type Sample = schema.Sample

// Result is the merged outcome of reading every input.
type Result struct {
	// Source is the merged aggregate of every request: of all classes.
	// It may be read any number of times (each Open merges the
	// in-memory states and spilled runs afresh), but not concurrently,
	// and not after Close.
	Source aggregate.Partials
	// Classes are the aggregates of each request class met, like Source,
	// sorted by class; class 0 is always first, even when empty.
	Classes []aggregate.ClassPartials
	Files   []FileStats
	Samples []Sample
	// SpilledBytes is the compressed size of every run written to disk;
	// Spills counts them.
	SpilledBytes int64
	Spills       int
	spill        *spiller
}

// Close removes every spilled run. It is safe to call more than once.
func (r *Result) Close() error {
	if r.spill != nil {
		return r.spill.removeAll()
	}
	return nil
}

// fileJob is one input and what its blocks add up to.
type fileJob struct {
	path string
	// name is the input's display name (set before any block is sent;
	// read-only afterwards).
	name string
	// newParser gives each block's worker a parser for this file's
	// format.
	newParser func() parse.LineParser
	mu        sync.Mutex
	stats     FileStats
	samples   []Sample
	days      map[int64]int64 // parsed lines per UTC day
	err       error
}

// addBlock folds one parsed block's results into the file's.
func (f *fileJob) addBlock(st *FileStats, samples []Sample, maxSamples int, days []dayCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addStats(&f.stats, st)
	f.days = fold(f.days, days)
	if len(samples) == 0 {
		return
	}
	// Blocks finish in any order: keep the first maxSamples by line.
	f.samples = append(f.samples, samples...)
	slices.SortStableFunc(f.samples, func(a, b Sample) int {
		switch {
		case a.Line < b.Line:
			return -1
		case a.Line > b.Line:
			return 1
		}
		return 0
	})
	if len(f.samples) > maxSamples {
		f.samples = f.samples[:maxSamples]
	}
}

// Run reads paths with cfg and returns their merged aggregate. The first
// read error (a missing file, a corrupt compressed stream) stops the run
// unless cfg.SkipCorrupt; malformed lines do not, they are counted. The
// caller must Close the result.
func Run(ctx context.Context, paths []string, cfg Config) (_ *Result, err error) {
	// The key sources and a fixed format are compiled once, before any
	// file is opened; every aggregator clones them.
	comp, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	workers := max(cfg.Workers, 1)
	nReaders := min(workers, len(paths))
	blockBytes, nBufs := blockSizing(cfg, workers, nReaders)
	share := int64(math.MaxInt64)
	if cfg.MemoryBytes > 0 {
		// Block buffers come off the top; a state's tables can double
		// when they grow, so half of the rest is shared by the holders
		// of states (parse workers, and readers reading files whole).
		share = max(0, cfg.MemoryBytes-int64(nBufs*blockBytes)) / 2 / int64(workers+nReaders)
	}
	if len(cfg.Filters) > aggregate.MaxFilters {
		return nil, fmt.Errorf("%d request filters: at most %d scoped limits with distinct scopes", len(cfg.Filters), aggregate.MaxFilters)
	}
	sp := &spiller{dir: cfg.TmpDir}
	defer func() {
		if err != nil {
			sp.removeAll()
		}
	}()

	jobs := make([]*fileJob, len(paths))
	for i, p := range paths {
		jobs[i] = &fileJob{path: p, name: p,
			stats: FileStats{Path: p, MinTime: math.MaxInt64, MaxTime: math.MinInt64}}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan []byte, nBufs)
	for range nBufs {
		free <- nil // allocated on first use
	}
	// Blocks are bounded by the buffers: a reader then waits only for a
	// buffer, which workers hand back in batches (see recycler), not for
	// each block to be taken.
	blocks := make(chan *block, nBufs)
	next := make(chan *fileJob)

	var holders []*aggregator // every state holder, the readers' first
	var rwg, wwg sync.WaitGroup
	for range nReaders {
		r := newAggregator(cfg, comp, share, sp)
		holders = append(holders, r)
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			c := cutter{cfg: cfg, blockBytes: blockBytes, free: free, out: blocks, r: r}
			c.opener.Stdin = cfg.Stdin
			c.opener.ZstdWindow = input.ZstdWindowLimit(cfg.MemoryBytes)
			defer c.opener.Close()
			for job := range next {
				if job.err = c.readFile(ctx, job); job.err != nil {
					cancel()
				}
			}
		}()
	}
	for range workers {
		r := newAggregator(cfg, comp, share, sp)
		holders = append(holders, r)
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			rc := recycler{blocks: blocks, free: free}
			defer rc.flush()
			for b, ok := rc.next(); ok; b, ok = rc.next() {
				if ctx.Err() == nil && r.err == nil {
					r.parseBlock(b)
					if r.err = r.maybeSpill(); r.err != nil {
						cancel()
					}
				}
				rc.done(b)
			}
		}()
	}
	var all sync.WaitGroup
	all.Add(1)
	go func() {
		defer all.Done()
	feed:
		for _, job := range jobs {
			select {
			case next <- job:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		rwg.Wait()
		close(blocks)
		wwg.Wait()
	}()
	if !waitUnlessCanceled(parent, &all) {
		// A reader may be blocked reading a pipe that never ends; the
		// caller is stopping anyway, so it does not wait for it.
		return nil, parent.Err()
	}

	// Report the first failing file in input order, so the message is
	// deterministic whatever the scheduling; files abandoned because of
	// that failure report only context.Canceled.
	var canceled error
	for _, job := range jobs {
		switch {
		case job.err == nil:
		case errors.Is(job.err, context.Canceled):
			canceled = job.err
		default:
			return nil, job.err
		}
	}
	for _, r := range holders {
		if r.err != nil {
			return nil, r.err
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

	res := &Result{spill: sp}
	for _, job := range jobs {
		job.stats.Dates = dateCounts(job.days)
		finishStats(&job.stats)
		res.Files = append(res.Files, job.stats)
		for _, s := range job.samples {
			if len(res.Samples) < cfg.MaxSamples {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	if err := sp.compact(); err != nil {
		return nil, err
	}
	res.Source, res.Classes = classSources(holders, sp.runs)
	res.SpilledBytes, res.Spills = sp.bytes, sp.count
	return res, nil
}

// classSources gathers, per request class, the States of every holder and
// the runs spilled from them; Source is all of them together.
func classSources(holders []*aggregator, runs map[aggregate.Class][]string) (*mergedSource, []aggregate.ClassPartials) {
	byClass := map[aggregate.Class]*mergedSource{0: {}}
	all := &mergedSource{}
	for _, r := range holders {
		for i, st := range r.classes.states {
			c := r.classes.classes[i]
			if byClass[c] == nil {
				byClass[c] = &mergedSource{}
			}
			byClass[c].states = append(byClass[c].states, st)
			all.states = append(all.states, st)
		}
	}
	for c, paths := range runs {
		if byClass[c] == nil {
			byClass[c] = &mergedSource{}
		}
		byClass[c].runs = append(byClass[c].runs, paths...)
		all.runs = append(all.runs, paths...)
	}
	classes := make([]aggregate.ClassPartials, 0, len(byClass))
	for c, m := range byClass {
		classes = append(classes, aggregate.ClassPartials{Class: c, Partials: m})
	}
	aggregate.SortClasses(classes)
	return all, classes
}

// blockSizing picks the block size and the number of block buffers: one
// per reader and, per worker, one being parsed, one queued and the
// recycleBatch-1 parsed ones it may hold keep everyone busy; under a
// memory budget the buffers take at most an eighth of it.
func blockSizing(cfg Config, workers, readers int) (blockBytes, nBufs int) {
	nBufs = readers + (recycleBatch+1)*workers
	blockBytes = cfg.BlockBytes
	if blockBytes <= 0 {
		blockBytes = DefaultBlockBytes
		if cfg.MemoryBytes > 0 {
			blockBytes = int(min(int64(blockBytes), max(64<<10, cfg.MemoryBytes/8/int64(nBufs))))
		}
	}
	return blockBytes, nBufs
}

// finishStats completes a file's statistics once every block is read.
func finishStats(st *FileStats) {
	if st.Parsed > 0 && st.TimePrecision == "" {
		st.TimePrecision = "s"
	}
}

// compiled is what a Config's settings compile to, once per run.
type compiled struct {
	keys *parse.KeyExtractor // cloned by each aggregator
	// options are the format options every parser gets: Config's, with
	// the fields the key sources and the verdict read.
	options parse.FormatOptions
	// format is a fixed --format's (nil for auto-detection, Parquet,
	// or a Config.NewParser).
	format *parse.Format
}

func compile(cfg Config) (*compiled, error) {
	c := compiled{options: cfg.FormatOptions}
	keys, keysErr := parse.NewKeyExtractor(cfg.KeySources)
	if keysErr == nil {
		keys.SetPattern(cfg.KeyPattern)
		c.keys = keys
		// Formats that keep only the fields asked for (JSON lines,
		// Parquet) must keep those the key sources and the verdict read.
		want := c.options.Want
		want = append(want[:len(want):len(want)], keys.Fields()...)
		if cfg.VerdictField != "" {
			want = append(want, cfg.VerdictField)
		}
		c.options.Want = want
	}
	if cfg.Format != "" && cfg.Format != parse.FormatAuto && cfg.Format != parse.FormatParquet {
		f, err := parse.LookupFormat(cfg.Format, c.options)
		if err != nil {
			return nil, err // reported before a key source's: the format is the first setting
		}
		c.format = &f
	}
	if keysErr != nil {
		return nil, keysErr
	}
	return &c, nil
}

// Check reports what Run would refuse in cfg's format and key settings
// (an unknown format, a bad layout, a bad key source) before anything is
// read.
func Check(cfg Config) error {
	_, err := compile(cfg)
	return err
}
