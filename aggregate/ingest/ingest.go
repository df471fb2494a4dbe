// Package ingest is keyrate's pipeline: open → decompress → cut into
// blocks of whole lines → parse → extract key and time → aggregate. It is
// the one place that knows about concurrency: reader goroutines open and
// decompress files (several at once) and cut each stream into blocks at
// line boundaries; parse workers each aggregate blocks into their own
// aggregate.State, spilling it to a sorted run on disk when it outgrows
// its share of the memory budget; at the end the states and runs are
// merged k-way. All of this is exact whatever the split because partial
// aggregates merge by addition.
package ingest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
)

// Config says how to read inputs.
type Config struct {
	// NewParser returns a fresh parser; each worker gets its own.
	NewParser func() parse.LineParser
	// KeySources are --key specs, in priority order.
	KeySources []string
	// MaxLineBytes bounds line length (0: parse.DefaultMaxLineBytes).
	MaxLineBytes int
	// ThrottleStatus lists statuses meaning "rejected by the limiter".
	ThrottleStatus []int
	// Workers is how many goroutines parse and aggregate (<= 0: 1); as
	// many files are read and decompressed at once.
	Workers int
	// MaxSamples bounds the malformed-line samples kept (0: none).
	MaxSamples int
	// MemoryBytes is the budget for aggregation state and block buffers;
	// a worker whose state outgrows its share spills it to TmpDir.
	// 0 means unbounded (never spill).
	MemoryBytes int64
	// TmpDir holds spilled runs ("" : the system temp dir).
	TmpDir string
	// BlockBytes is the size of the blocks streams are cut into
	// (0: DefaultBlockBytes, possibly less to fit MemoryBytes).
	BlockBytes int
}

// DefaultBlockBytes is the default block size: large enough to amortise
// the hand-off between goroutines, small enough to keep workers busy.
const DefaultBlockBytes = 2 << 20

// FileStats describes one input after reading.
type FileStats struct {
	Path        string `json:"path"`
	Compression string `json:"compression"`
	Bytes       int64  `json:"bytes"` // as stored (compressed) bytes read
	Lines       int64  `json:"lines"`
	Parsed      int64  `json:"parsed"`
	Malformed   int64  `json:"malformed"`
	Keyless     int64  `json:"keyless"`
	// MinTime and MaxTime bound the parsed lines' times (epoch ms);
	// meaningful only when Parsed > 0.
	MinTime int64 `json:"-"`
	MaxTime int64 `json:"-"`
}

// add folds the counts of a block (or a whole file) into s.
func (s *FileStats) add(o *FileStats) {
	s.Lines += o.Lines
	s.Parsed += o.Parsed
	s.Malformed += o.Malformed
	s.Keyless += o.Keyless
	s.MinTime, s.MaxTime = min(s.MinTime, o.MinTime), max(s.MaxTime, o.MaxTime)
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
	// Source yields the merged aggregate of the workers' States and
	// spilled runs (streamed from disk); it may be read more than once,
	// until Close.
	Source  aggregate.Source
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

// fileJob is one input path and what its blocks add up to.
type fileJob struct {
	path string
	// newParser gives each block's worker a parser for this file's
	// format.
	newParser func() parse.LineParser
	mu        sync.Mutex
	stats     FileStats
	samples   []Sample
	err       error
}

// addBlock folds one parsed block's results into the file's.
func (f *fileJob) addBlock(st *FileStats, samples []Sample, maxSamples int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.add(st)
	if len(samples) == 0 {
		return
	}
	// Blocks finish in any order: keep the first maxSamples by line.
	f.samples = append(f.samples, samples...)
	slices.SortFunc(f.samples, func(a, b Sample) int { return int(a.Line - b.Line) })
	if len(f.samples) > maxSamples {
		f.samples = f.samples[:maxSamples]
	}
}

// Run reads paths with cfg and returns their merged aggregate. The first
// read error (a missing file, a corrupt compressed stream) stops the run;
// malformed lines do not, they are counted. The caller must Close the
// result.
func Run(ctx context.Context, paths []string, cfg Config) (_ *Result, err error) {
	// Validate the key sources before any file is opened.
	if _, err := parse.NewKeyExtractor(cfg.KeySources); err != nil {
		return nil, err
	}
	workers := max(cfg.Workers, 1)
	readers := min(workers, len(paths))
	blockBytes, nBufs := blockSizing(cfg, workers, readers)
	share := int64(math.MaxInt64)
	if cfg.MemoryBytes > 0 {
		// Block buffers come off the top; a state's capacity can
		// double when it grows, so half of the rest is its threshold.
		share = max(0, cfg.MemoryBytes-int64(nBufs*blockBytes)) / 2 / int64(workers)
	}
	sp := &spiller{dir: cfg.TmpDir}
	defer func() {
		if err != nil {
			sp.removeAll()
		}
	}()

	jobs := make([]*fileJob, len(paths))
	for i, p := range paths {
		jobs[i] = &fileJob{path: p, newParser: cfg.NewParser,
			stats: FileStats{Path: p, MinTime: math.MaxInt64, MaxTime: math.MinInt64}}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan []byte, nBufs)
	for range nBufs {
		free <- nil // allocated on first use
	}
	blocks := make(chan *block, workers)
	next := make(chan *fileJob)

	var rwg sync.WaitGroup
	for range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			c := cutter{cfg: cfg, blockBytes: blockBytes, free: free, out: blocks}
			for job := range next {
				if job.err = c.readFile(ctx, job); job.err != nil {
					cancel()
				}
			}
		}()
	}
	states := make([]*aggregate.State, workers)
	workerErrs := make([]error, workers)
	var wwg sync.WaitGroup
	for w := range workers {
		states[w] = aggregate.NewState()
		wk := newWorker(cfg, states[w])
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for b := range blocks {
				if ctx.Err() == nil && workerErrs[w] == nil {
					wk.parseBlock(b)
					if states[w].ApproxBytes() > share && states[w].Cells() > 0 {
						if workerErrs[w] = sp.spill(states[w]); workerErrs[w] != nil {
							cancel()
						}
					}
				}
				if b.buf != nil {
					free <- b.buf[:0]
				}
			}
		}()
	}
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
	for _, err := range workerErrs {
		if err != nil {
			return nil, err
		}
	}
	if canceled != nil {
		return nil, canceled
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &Result{spill: sp}
	for _, job := range jobs {
		res.Files = append(res.Files, job.stats)
		for _, s := range job.samples {
			if len(res.Samples) < cfg.MaxSamples {
				res.Samples = append(res.Samples, s)
			}
		}
	}
	// Beyond maxFanIn runs, merge the oldest into bigger runs now, so
	// every read of the result opens a bounded number of files.
	if err := sp.compact(); err != nil {
		return nil, err
	}
	res.Source = &merged{states: states, spill: sp}
	res.SpilledBytes, res.Spills = sp.bytes, sp.count
	return res, nil
}

// blockSizing picks the block size and the number of block buffers: one
// per reader and two per worker keep everyone busy; under a memory budget
// the buffers take at most an eighth of it.
func blockSizing(cfg Config, workers, readers int) (blockBytes, nBufs int) {
	nBufs = readers + 2*workers
	blockBytes = cfg.BlockBytes
	if blockBytes <= 0 {
		blockBytes = DefaultBlockBytes
		if cfg.MemoryBytes > 0 {
			blockBytes = int(min(int64(blockBytes), max(64<<10, cfg.MemoryBytes/8/int64(nBufs))))
		}
	}
	return blockBytes, nBufs
}

// merged is Result.Source: each Each merges the States (sorting their
// cells, in parallel) with freshly opened runs, and closes the runs after.
type merged struct {
	states []*aggregate.State
	spill  *spiller
}

func (m *merged) Each(fn func(*aggregate.Series) error) error {
	cursors, closers, err := openRuns(m.spill.paths())
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	stateCursors := make([]aggregate.Cursor, len(m.states))
	var wg sync.WaitGroup
	for i, st := range m.states {
		if st.Cells() > 0 {
			wg.Go(func() { stateCursors[i] = st.Cursor() })
		}
	}
	wg.Wait()
	for _, c := range stateCursors {
		if c != nil {
			cursors = append(cursors, c)
		}
	}
	return aggregate.NewMerge(cursors...).Each(fn)
}
