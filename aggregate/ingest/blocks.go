package ingest

import (
	"bytes"
	"context"
	"io"
	"math"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
)

// block is a run of whole lines of one file, or the marker of one
// over-long line the cutter skipped.
type block struct {
	file      *fileJob
	buf       []byte // whole lines; the last may lack its "\n" at EOF
	firstLine int64  // 1-based number of the first line in buf
	tooLong   bool   // buf is nil: line firstLine exceeded the limit
}

// cutter turns decompressed streams into blocks. One cutter runs per
// reader goroutine and handles that goroutine's files one at a time.
type cutter struct {
	cfg        Config
	blockBytes int
	free       chan []byte // block buffers, bounding memory in flight
	out        chan<- *block
	carry      []byte // the partial line at the end of the last block
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

// readFile opens one input, detects its compression and cuts it into
// blocks of whole lines for the workers. Line numbers are counted here,
// so each block knows where it starts and malformed-line samples name the
// exact line whatever worker parses them.
func (c *cutter) readFile(ctx context.Context, job *fileJob) error {
	in, err := parse.Open(job.path)
	if err != nil {
		return err
	}
	defer in.Close()
	job.mu.Lock()
	job.stats.Path, job.stats.Compression = in.Name, string(in.Compression)
	job.mu.Unlock()
	maxLine := c.cfg.MaxLineBytes
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	line := int64(1) // number of the next line to start
	c.carry = c.carry[:0]
	skipping := false // inside an over-long line, discarding to its end
	eof := false
	for !eof {
		var buf []byte
		select {
		case buf = <-c.free:
		case <-ctx.Done():
			return ctx.Err()
		}
		target := max(c.blockBytes, 2*len(c.carry))
		if cap(buf) < target {
			buf = make([]byte, 0, target)
		}
		buf = append(buf[:0], c.carry...)
		c.carry = c.carry[:0]
		for len(buf) < target && !eof {
			n, err := in.Read(buf[len(buf):target])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				c.free <- buf
				return err
			}
		}
		if skipping {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 && !eof {
				c.free <- buf[:0]
				continue
			}
			skipping = false
			if i < 0 {
				buf = buf[:0]
			} else {
				buf = buf[:copy(buf, buf[i+1:])]
			}
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if eof {
			cut = len(buf) // a last line without terminator is a line
		}
		if cut == 0 {
			// No line ends in a full block: either the line is over the
			// limit (skip it without buffering it whole) or the block
			// size is below the limit (grow this line's buffer).
			if len(buf) > maxLine+1 { // +1: room for a "\r"
				c.free <- buf[:0]
				if err := c.send(ctx, &block{file: job, firstLine: line, tooLong: true}); err != nil {
					return err
				}
				line++
				skipping = true
				continue
			}
			c.carry = append(c.carry, buf...)
			c.free <- buf[:0]
			continue
		}
		c.carry = append(c.carry, buf[cut:]...)
		b := &block{file: job, buf: buf[:cut], firstLine: line}
		line += int64(bytes.Count(buf[:cut], []byte{'\n'}))
		if err := c.send(ctx, b); err != nil {
			return err
		}
	}
	n := in.CompressedBytes()
	job.mu.Lock()
	job.stats.Bytes = n
	job.mu.Unlock()
	return nil
}

// worker is one parse goroutine's state, reused across blocks.
type worker struct {
	cfg      Config
	keys     *parse.KeyExtractor
	state    *aggregate.State
	throttle [1000]bool
	rec      parse.Record
	obs      aggregate.Observation
	samples  []Sample
}

func newWorker(cfg Config, st *aggregate.State) *worker {
	keys, _ := parse.NewKeyExtractor(cfg.KeySources) // validated by Run
	w := &worker{cfg: cfg, keys: keys, state: st}
	for _, s := range cfg.ThrottleStatus {
		if s >= 0 && s < len(w.throttle) {
			w.throttle[s] = true
		}
	}
	return w
}

// excerptBytes bounds how much of a malformed line a sample keeps.
const excerptBytes = 120

// parseBlock parses and aggregates one block and folds its counts into
// its file's.
func (w *worker) parseBlock(b *block) {
	st := FileStats{MinTime: math.MaxInt64, MaxTime: math.MinInt64}
	w.samples = w.samples[:0]
	lineNo := b.firstLine
	malformed := func(line []byte, reason string) {
		st.Malformed++
		if len(w.samples) < w.cfg.MaxSamples {
			ex := line
			if len(ex) > excerptBytes {
				ex = ex[:excerptBytes]
			}
			w.samples = append(w.samples, Sample{File: b.file.stats.Path, Line: lineNo, Reason: reason, Excerpt: string(ex)})
		}
	}
	if b.tooLong {
		st.Lines++
		malformed(nil, parse.ErrLineTooLong.Error())
		b.file.addBlock(&st, w.samples, w.cfg.MaxSamples)
		return
	}
	maxLine := w.cfg.MaxLineBytes
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	parser := b.file.newParser()
	state := w.state
	for rest := b.buf; len(rest) > 0; lineNo++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
			if i > 0 && line[i-1] == '\r' { // "\r\n"; a lone final "\r" stays
				line = line[:i-1]
			}
		} else {
			rest = nil
		}
		st.Lines++
		if len(line) > maxLine {
			malformed(nil, parse.ErrLineTooLong.Error())
			continue
		}
		if len(line) == 0 {
			continue // blank lines (often a trailing one) carry nothing
		}
		if err := parser.Parse(line, &w.rec); err != nil {
			malformed(line, err.Error())
			continue
		}
		st.Parsed++
		ts := w.rec.TimeMillis
		st.MinTime, st.MaxTime = min(st.MinTime, ts), max(st.MaxTime, ts)
		key := w.keys.Extract(&w.rec)
		if key == nil {
			st.Keyless++
			continue
		}
		status := w.rec.Status
		w.obs = aggregate.Observation{TimeMillis: ts, Status: status, Bytes: w.rec.Bytes,
			Rejected: status >= 0 && status < len(w.throttle) && w.throttle[status]}
		state.Add(key, &w.obs)
	}
	b.file.addBlock(&st, w.samples, w.cfg.MaxSamples)
}
