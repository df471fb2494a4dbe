package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

// block is a run of whole lines of one file, or the marker of one
// over-long line the cutter skipped.
type block struct {
	file      *fileJob
	buf       []byte // whole lines; the last may lack its "\n" at EOF
	firstLine int64  // 1-based number of the first line in buf
	tooLong   bool   // buf is nil: line firstLine exceeded the limit
	// state is a stateful format's parser as it stands at the block's
	// start (nil for other formats); workers parse with clones of it.
	state parse.Stateful
}

// recycleBatch is how many parsed blocks' buffers a worker hands back
// to the readers at once. A reader waiting for a buffer is woken by the
// first of them, and waking a goroutine whose thread sleeps is a futex
// round trip (~20 µs on a shared 2-vCPU machine, the time of ~80 lines);
// handed back one at a time, a reader ahead of its worker was woken for
// every block.
const recycleBatch = 4

// recycler is a parse worker's side of the block buffers: it receives
// blocks and hands their buffers back in batches of recycleBatch.
type recycler struct {
	blocks <-chan *block
	free   chan<- []byte
	held   [][]byte
}

// next returns the next block, or false once blocks is closed. Before
// it waits for one, it hands back the buffers it holds: a worker about
// to sleep must not keep a reader from filling the block it waits for.
func (c *recycler) next() (*block, bool) {
	select {
	case b, ok := <-c.blocks:
		return b, ok
	default:
	}
	c.flush()
	b, ok := <-c.blocks
	return b, ok
}

// done takes back a parsed block's buffer.
func (c *recycler) done(b *block) {
	if b.buf == nil {
		return
	}
	c.held = append(c.held, b.buf[:0])
	if len(c.held) == recycleBatch {
		c.flush()
	}
}

// flush hands every held buffer back to the readers.
func (c *recycler) flush() {
	for _, buf := range c.held {
		c.free <- buf
	}
	c.held = c.held[:0]
}

// aggregator holds one goroutine's parsing and aggregation state: a parse
// worker's (blocks of any file) or a file reader's (files read whole).
type aggregator struct {
	cfg  Config
	comp *compiled
	keys *parse.KeyExtractor
	// state is class 0's State, which every keyed request goes to when
	// the policy has no scoped limit; classes holds it and the others.
	state    *aggregate.State
	classes  classSet
	throttle statusSet
	rec      parse.Record
	obs      aggregate.Observation
	// timeSource is the time source last added to a FileStats.
	timeSource *parse.TimeSource
	// verdictMissing counts the current file's (or block's) keyed lines
	// lacking the verdict field.
	verdictMissing int64
	pub            published // what publish last told cfg.Progress
	// share is the memory this aggregator's states may hold before they
	// spill to sp.
	share   int64
	sp      *spiller
	err     error // a failed spill; the reader then only drains blocks
	samples []Sample
	// days counts the current block's (or columnar file's) parsed
	// lines per UTC day.
	days dayCounts
	// minTime is Config.MinTime, or the earliest time when it is 0.
	minTime int64
	// parser, parserFile and parserState cache a block parser across
	// blocks of the same file (and, for a stateful format, the same
	// state).
	parser      parse.LineParser
	parserFile  *fileJob
	parserState parse.Stateful
	// detector detects the formats of the files this aggregator's goroutine opens,
	// trying the last one's first.
	detector parse.Detector
}

func newAggregator(cfg Config, comp *compiled, share int64, sp *spiller) *aggregator {
	keys := comp.keys.Clone()
	cfg.FormatOptions = comp.options
	var throttle statusSet
	for _, s := range cfg.ThrottleStatus {
		throttle.add(s)
	}
	var opts []aggregate.StateOption
	if cfg.KeyMap != nil {
		opts = append(opts, aggregate.WithKeyMap(cfg.KeyMap))
	}
	classes := newClassSet(cfg.Filters, opts...)
	minTime := cfg.MinTime
	if minTime == 0 {
		minTime = math.MinInt64
	}
	return &aggregator{cfg: cfg, comp: comp, keys: keys, state: classes.states[0], classes: classes,
		throttle: throttle, share: share, sp: sp, minTime: minTime}
}

// maybeSpill writes the reader's states to runs when together they hold
// more than its share of the memory budget.
func (r *aggregator) maybeSpill() error {
	if r.share == math.MaxInt64 {
		return nil
	}
	var n int64
	for _, st := range r.classes.states {
		n += st.ApproxBytes()
	}
	if n <= r.share {
		return nil
	}
	for i, st := range r.classes.states {
		if st.Cells() > 0 {
			if err := r.sp.spill(st, r.classes.classes[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// excerptBytes bounds how much of a malformed line a sample keeps.
const excerptBytes = 120

// malformed counts a bad line into st and keeps a sample of it.
func (r *aggregator) malformed(st *FileStats, file string, lineNo int64, line []byte, reason string) {
	st.Malformed++
	if len(r.samples) < r.cfg.MaxSamples {
		ex := line
		if len(ex) > excerptBytes {
			ex = ex[:excerptBytes]
		}
		r.samples = append(r.samples, Sample{File: file, Line: lineNo, Reason: reason, Excerpt: string(ex)})
	}
}

// line parses and aggregates one line (already counted in st.Lines,
// without its terminator) of file.
func (r *aggregator) line(parser parse.LineParser, st *FileStats, file string, lineNo int64, line []byte) {
	if len(line) == 0 {
		return // blank lines (often a trailing one) carry nothing
	}
	if line[0] == 0 { // NUL padding before the real line (see parse.TrimPadding)
		st.NULBytes++
		if line = parse.TrimPadding(line); len(line) == 0 {
			return
		}
	}
	if err := parser.Parse(line, &r.rec); err != nil {
		if err == parse.ErrNoRecord {
			st.Skipped++
			return
		}
		r.malformed(st, file, lineNo, line, parse.Reason(err, !r.cfg.HideLineText))
		return
	}
	if !parse.TimeInRange(r.rec.TimeMillis) {
		r.malformed(st, file, lineNo, line, parse.ErrTimeOutOfRange.Error())
		return
	}
	r.observe(st)
}

// parseBlock parses and aggregates one block and folds its counts into
// its file's.
func (r *aggregator) parseBlock(b *block) {
	st := FileStats{MinTime: math.MaxInt64, MaxTime: math.MinInt64}
	r.samples = r.samples[:0]
	r.verdictMissing = 0
	r.days.reset()
	file := b.file.name
	if b.tooLong {
		st.Lines++
		r.malformed(&st, file, b.firstLine, nil, parse.ErrLineTooLong.Error())
		b.file.addBlock(&st, r.samples, r.cfg.MaxSamples, nil)
		r.publishLines(st.Lines)
		return
	}
	maxLine := r.cfg.MaxLineBytes
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	if r.parserFile != b.file || r.parserState != b.state {
		// A block's state changes only after a block whose directives
		// changed it, so a worker's clone from an earlier block of the
		// same state is still in that state.
		if b.state != nil {
			r.parser = b.state.Clone()
		} else {
			r.parser = b.file.newParser()
		}
		r.parserFile, r.parserState = b.file, b.state
	}
	r.newStream()
	lineNo := b.firstLine
	for rest := b.buf; len(rest) > 0; lineNo++ {
		var line []byte
		line, rest = parse.NextLine(rest)
		st.Lines++
		if parse.LineTooLong(line, maxLine) {
			r.malformed(&st, file, lineNo, nil, parse.ErrLineTooLong.Error())
			continue
		}
		r.line(r.parser, &st, file, lineNo, line)
	}
	st.VerdictMissing = r.verdictMissing
	b.file.addBlock(&st, r.samples, r.cfg.MaxSamples, r.days.list)
	r.publishLines(st.Lines)
}

// newStream tells the reader's states that the lines that follow are
// another stream (see aggregate.State.NewStream): the next block, which
// may be another file's. Short streams keep the index of a stream's
// cells small enough to stay in cache when a log goes back a little in
// time.
func (r *aggregator) newStream() {
	for _, st := range r.classes.states {
		st.NewStream()
	}
}

// noLines is what a cutter publishes as its lines: workers count them.
var noLines FileStats

// cutter turns decompressed streams into blocks. One cutter runs per
// reader goroutine and handles that goroutine's files one at a time.
type cutter struct {
	cfg        Config
	blockBytes int
	free       chan []byte // block buffers, bounding memory in flight
	out        chan<- *block
	r          *aggregator
	// opener and lines are reused from file to file: an archive of many
	// small files would otherwise allocate their buffers for each.
	opener input.Opener
	lines  *input.Cutter
	feed   feed // what lines reads: the current file
	// primer follows a stateful file's directives block by block, and
	// state is its clone for the blocks from the next one on.
	primer, state parse.Stateful
	rec           parse.Record // the primer's scratch record
}

// prime feeds the directive lines among a block's lines to the primer, in
// order and exactly as parseBlock will hand them to the block's parser
// (by the parse line rules: terminators dropped, NUL padding trimmed,
// over-long lines skipped), and if there were any, clones the primer as
// the state of the blocks after. Only the lines holding a '#' are split
// off: the others cannot be directives.
func (c *cutter) prime(lines []byte, maxLine int) {
	fed := false
	for i := bytes.IndexByte(lines, '#'); i >= 0; {
		line, rest := parse.NextLine(lines[bytes.LastIndexByte(lines[:i], '\n')+1:])
		if trimmed := parse.TrimPadding(line); !parse.LineTooLong(line, maxLine) && parse.IsDirective(trimmed) {
			c.primer.Parse(trimmed, &c.rec)
			fed = true
		}
		j := bytes.IndexByte(rest, '#')
		if j < 0 {
			break
		}
		lines, i = rest, j
	}
	if fed {
		c.state = c.primer.Clone()
	}
}

func (c *cutter) send(ctx context.Context, b *block) error {
	select {
	case c.out <- b:
		return nil
	case <-ctx.Done():
		if b.buf != nil {
			c.free <- b.buf
		}
		return ctx.Err()
	}
}

// readFile opens one input, detects its compression and format, and
// either reads it whole (columnar formats) or cuts it into blocks for the
// parse workers (a stateful format's blocks carry its parser's state).
func (c *cutter) readFile(ctx context.Context, job *fileJob) error {
	r := c.r
	st := FileStats{Path: job.path, MinTime: math.MaxInt64, MaxTime: math.MinInt64}
	done := func(samples []Sample, err error) error {
		job.mu.Lock()
		defer job.mu.Unlock()
		job.stats = st
		job.samples = samples
		return err
	}
	in, err := c.opener.Open(job.path)
	if err != nil {
		return done(nil, r.skip(&st, err))
	}
	defer in.Close()
	st.Path, st.Compression = in.Name, string(in.Compression)
	limit, limited := c.cfg.Limits[job.path]
	if !limited {
		limit = -1
	}
	c.feed = feed{in: in, r: r, hash: newContentHash(), limit: limit}
	if c.lines == nil {
		c.lines = input.NewCutter(&c.feed, c.cfg.MaxLineBytes, c.blockBytes)
	} else {
		c.lines.Reset(&c.feed)
	}
	defer func() {
		c.lines.Reset(nil) // lets go of the file
		c.feed = feed{}
	}()
	newParser, columnar, err := r.chooseFormat(in, c.lines, &st)
	if err != nil {
		// A stream corrupt from its first bytes is a corrupt input, which
		// --skip-corrupt may skip; an unknown format is not.
		var re *input.ReadError
		if errors.As(err, &re) {
			return done(nil, r.skip(&st, err))
		}
		return done(nil, err)
	}
	if columnar {
		in.Close()
		if limited && limit < in.Size {
			return done(nil, fmt.Errorf("%s: a Parquet file is read whole, not its first %d bytes", in.Name, limit))
		}
		r.days.reset()
		samples, err := r.readColumnar(ctx, job.path, &st)
		if errors.Is(err, parse.ErrCorrupt) {
			// As with a corrupt stream, --skip-corrupt keeps the rows
			// read before the damage and marks the file.
			err = r.skip(&st, err)
		}
		if err == nil {
			err = hashFile(job.path, &st)
		}
		job.mu.Lock()
		job.days = fold(job.days, r.days.list)
		job.mu.Unlock()
		return done(samples, err)
	}
	// Blocks. Workers add their counts to job.stats from now on, so it is
	// set (under the lock) before the first block.
	job.name, job.newParser = in.Name, newParser
	done(nil, nil)
	if p, ok := newParser().(parse.Stateful); ok {
		c.primer, c.state = p, p.Clone()
		defer func() { c.primer, c.state = nil, nil }()
	}
	c.feed.stop = ctx
	err = c.cut(ctx, job)
	job.mu.Lock()
	defer job.mu.Unlock()
	job.stats.Bytes = in.CompressedBytes()
	setIdentity(&job.stats, c.feed.hash.identity())
	if err != nil && !errors.Is(err, context.Canceled) {
		err = r.skip(&job.stats, err)
	}
	r.publish(in, &noLines)
	return err
}

// cut sends the rest of the file's lines (all of them: detection only
// peeked) in blocks, as the cutter's input.Cutter cuts them: it counts
// lines, so each block knows where it starts and malformed-line samples
// name the exact line whatever worker parses them. On a read error the
// complete lines before it are still sent.
func (c *cutter) cut(ctx context.Context, job *fileJob) error {
	maxLine := c.cfg.MaxLineBytes
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	for {
		var buf []byte
		select {
		case buf = <-c.free:
		case <-ctx.Done():
			return ctx.Err()
		}
		next, err := c.lines.Next(buf)
		if next.Lines == nil {
			c.free <- buf[:0] // not used
		}
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		b := &block{file: job, buf: next.Lines, firstLine: next.FirstLine, tooLong: next.TooLong}
		if !b.tooLong {
			b.state = c.state
			if c.primer != nil {
				c.prime(b.buf, maxLine)
			}
		}
		if err := c.send(ctx, b); err != nil {
			return err
		}
	}
}

// feed is the stream a cutter cuts: the input, whose progress is
// published after each read, which is hashed as it is read (the input's
// identity, see Identity) and ends at its byte limit if it has one, and
// which stops reading once the run stops (the Cutter may read a long way
// within one Next, skipping an over-long line). stop is nil while the
// format is detected: a detection cut short would blame the file's
// format.
type feed struct {
	in    *input.Input
	r     *aggregator
	stop  context.Context
	hash  *contentHash
	limit int64 // bytes to read at most; < 0: all
}

func (f *feed) Read(p []byte) (int, error) {
	if f.stop != nil {
		if err := f.stop.Err(); err != nil {
			return 0, err
		}
	}
	if f.limit >= 0 {
		left := f.limit - f.hash.n
		if left <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := f.in.Read(p)
	f.hash.Write(p[:n])
	f.r.publish(f.in, &noLines)
	return n, err
}
