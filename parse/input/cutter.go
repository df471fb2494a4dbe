package input

import (
	"bytes"
	"io"
	"time"

	"github.com/keyrate/keyrate/parse"
)

// Block is a run of whole lines cut from a stream, or the marker of one
// over-long line that was skipped.
type Block struct {
	// Lines holds whole lines, each ending in "\n" but for the stream's
	// last, which may lack it; parse.NextLine splits them. nil in a
	// marker.
	Lines []byte
	// FirstLine is the 1-based number of the first line in Lines, or of
	// the line a marker stands for.
	FirstLine int64
	// TooLong marks a line longer than the maximum, skipped without being
	// read whole.
	TooLong bool
}

// Peeker looks ahead in a stream without consuming it: a Cutter or a
// LineReader before its first Next, for format detection.
type Peeker interface {
	Peek(n int) (head []byte, atEOF bool, err error)
}

// maxFillDelay bounds how long Next waits for a block to fill before it
// returns the whole lines it has: a slow stream (a pipe fed as the log is
// written) would otherwise hold its lines back until a whole block came.
const maxFillDelay = 100 * time.Millisecond

// Cutter cuts a stream into blocks of whole lines, by parse's line rules,
// counting lines so that each block knows the number of its first. It
// owns what the rules need across blocks: the partial line carried from
// one block to the next, the skipping of an over-long line (it is never
// buffered whole: one corrupt multi-gigabyte "line" cannot exhaust
// memory), and the collapsing of a NUL hole (copytruncate padding,
// however long) to the one NUL that marks the line as padded. The lines
// within a block are checked against the maximum by whoever splits them
// (parse.LineTooLong): only a line that fills a block without ending is
// judged here. A Cutter is not safe for concurrent use.
//
// It reads straight into the buffer it hands out, which grows (by
// doubling, up to the maximum line length) only to hold a line longer
// than a block: a long line costs about its size, once, plus the copy it
// outgrew.
type Cutter struct {
	r          io.Reader
	max        int
	blockBytes int
	line       int64  // number of the next line to start
	buf        []byte // read and not yet handed out: from a line's start
	skipping   bool   // inside an over-long line, discarding to its end
	eof        bool   // the stream ended, or failed with err
	err        error
	// begun is set once the empty lines the stream starts with were
	// looked for (see skipEmptyStart); empty counts those consumed and
	// not yet handed out, padded says the first of them held the NUL
	// that marks a hole.
	begun  bool
	empty  int64
	padded bool
}

// NewCutter cuts r into blocks of about blockBytes bytes (they grow to
// hold a line longer than that whole) with lines of at most maxLine bytes
// (<= 0: parse.DefaultMaxLineBytes).
func NewCutter(r io.Reader, maxLine, blockBytes int) *Cutter {
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	return &Cutter{r: r, max: maxLine, blockBytes: max(blockBytes, 1), line: 1}
}

// Reset makes c cut r, from line 1, keeping its buffer.
func (c *Cutter) Reset(r io.Reader) {
	*c = Cutter{r: r, max: c.max, blockBytes: c.blockBytes, line: 1, buf: c.buf[:0]}
}

// lineLimit is the most a buffer holds of a line: a maximal line, its
// "\r\n", and the one NUL left of its padding.
func (c *Cutter) lineLimit() int { return c.max + 3 }

// peekLimit bounds what Peek reads: a whole maximal line, or 64 KiB when
// that is more.
func (c *Cutter) peekLimit() int { return max(c.lineLimit(), 64<<10) }

// Peek returns at least n bytes ahead without consuming them (fewer at
// the end of the stream), or more to hold the first line whole, up to a
// maximal line and its "\r\n"; n itself is bounded alike (by 64 KiB
// when that is more). It is for
// format detection: call it before the first Next. The empty lines the
// stream starts with are not in head (Next still hands them out as
// lines): however many there are, detection sees the first line with
// content, as it sees past a NUL hole. atEOF reports that head is all
// that can be read of the input. err is a read error met while filling
// the buffer (a corrupt or truncated stream): head still holds what was
// read before it, and Next reports the error again once past head.
func (c *Cutter) Peek(n int) (head []byte, atEOF bool, err error) {
	c.skipEmptyStart()
	limit := c.peekLimit()
	c.read(min(n, limit), false)
	for !c.eof && bytes.IndexByte(c.buf, '\n') < 0 && len(c.buf) < limit {
		c.read(min(2*len(c.buf), limit), false)
	}
	if c.err != nil {
		return c.buf, true, c.err
	}
	return c.buf, c.eof, nil
}

// Next returns the next block. Its Lines are the caller's from then on:
// dst's array (or a larger one), or the Cutter's buffer, which then keeps
// dst's array (when large enough) to read the next block into; a marker
// leaves dst unused. At the end of the stream Next returns io.EOF. A read
// error is returned after the whole lines read before it (the partial
// line it cut is lost), and again by every later call.
func (c *Cutter) Next(dst []byte) (Block, error) {
	if c.empty > 0 {
		return c.emptyLines(dst), nil
	}
	need := c.blockBytes // bytes to hold before cutting: a block, or a long line
	for {
		if c.skipping {
			i := bytes.IndexByte(c.buf, '\n')
			switch {
			case i >= 0:
				c.buf = c.buf[:copy(c.buf, c.buf[i+1:])]
				c.skipping = false
			case c.eof:
				c.buf = c.buf[:0] // the over-long line ran to the end: already counted
				c.skipping = false
			default:
				c.buf = c.buf[:0]
				c.read(c.blockBytes, true)
				continue
			}
		}
		if len(c.buf) < need {
			c.read(need, true)
		}
		cut := bytes.LastIndexByte(c.buf, '\n') + 1
		if c.eof && c.err == nil {
			cut = len(c.buf) // a last line without terminator is a line
		}
		if cut > 0 {
			return c.handOut(cut, dst), nil
		}
		if c.eof {
			break // a read error after a partial line: the line is lost
		}
		if len(c.buf) < need {
			continue // a slow stream: no line has ended yet
		}
		// No line ends in a full buffer. Its NUL padding (a hole
		// mid-file, however long) is not the line: one NUL is kept to
		// mark it, the rest dropped, as the line rules would.
		if c.buf[0] == 0 {
			if n := len(c.buf) - len(parse.TrimPadding(c.buf)); n > 1 {
				c.buf = c.buf[:1+copy(c.buf[1:], c.buf[n:])]
				continue
			}
		}
		// Then either the line is over the limit (skip it without
		// buffering it whole) or it is longer than a block: the buffer
		// doubles until the line ends in it.
		if parse.LineTooLong(c.buf, c.max+1) { // +1: room for a "\r"
			b := Block{FirstLine: c.line, TooLong: true}
			c.line++
			c.skipping = true
			c.buf = c.buf[:0]
			return b, nil
		}
		need = min(2*need, c.lineLimit())
	}
	if c.err != nil {
		return Block{}, c.err
	}
	return Block{}, io.EOF
}

// handOut returns the block of the buffer's first cut bytes and keeps
// the rest, the start of the next line, in dst's array (or a new one).
func (c *Cutter) handOut(cut int, dst []byte) Block {
	b := Block{Lines: c.buf[:cut], FirstLine: c.line}
	c.line += int64(bytes.Count(b.Lines, []byte{'\n'}))
	rest := c.buf[cut:]
	if cap(dst) < max(c.blockBytes, len(rest)) {
		dst = make([]byte, 0, max(c.blockBytes, len(rest)))
	}
	c.buf = append(dst[:0], rest...)
	return b
}

// read reads from the stream into the buffer until it holds target
// bytes (growing it to that), the stream ends or fails, or, when
// hurried, maxFillDelay passed.
func (c *Cutter) read(target int, hurried bool) {
	if cap(c.buf) < target {
		c.buf = grow(c.buf, target)
	}
	started := time.Now()
	for len(c.buf) < target && !c.eof {
		n, err := c.r.Read(c.buf[len(c.buf):target])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			c.eof, c.err = true, err
		}
		if hurried && time.Since(started) > maxFillDelay {
			break
		}
	}
}

// releaseBytes is the size from which grow gives the pages of the buffer
// it outgrew back to the system as it copies them.
const releaseBytes = 4 << 20

// grow returns buf's bytes in a new buffer of capacity n. A large buffer
// (a line longer than a block) is copied a piece at a time, each piece
// given back to the system once copied (releasePages): the old and the
// new buffer are never both resident, and a line costs about its size,
// not that plus the buffers it outgrew, which the collector would free
// only later and the runtime keep mapped longer still. buf is the
// Cutter's alone: dst arrays are the caller's no more once passed.
func grow(buf []byte, n int) []byte {
	nb := make([]byte, len(buf), n)
	if cap(buf) < releaseBytes {
		copy(nb, buf)
		return nb
	}
	const piece = 1 << 20
	for i := 0; i < len(buf); i += piece {
		j := min(i+piece, len(buf))
		copy(nb[i:j], buf[i:j])
		releasePages(buf[i:j])
	}
	releasePages(buf[len(buf):cap(buf)]) // untouched, but perhaps resident
	return nb
}

// skipEmptyStart consumes the empty lines ("\n" or "\r\n", the first
// one possibly after a NUL hole) that the stream starts with, counting
// them, so that Peek sees the first line with content however many there
// are without holding them. Next hands them out again (emptyLines): the
// lines, their numbers and their NUL padding stay the stream's.
func (c *Cutter) skipEmptyStart() {
	if c.begun {
		return
	}
	c.begun = true
	for {
		i := 0
		for {
			first := c.empty == 0 && i == 0
			n, complete := emptyLine(c.buf[i:], first)
			if !complete {
				break
			}
			if c.buf[i] == 0 {
				c.padded = true
			}
			c.empty++
			i += n
		}
		if i > 0 {
			c.buf = c.buf[:copy(c.buf, c.buf[i:])]
		}
		first := c.empty == 0
		if n, _ := emptyLine(c.buf, first); n < len(c.buf) || c.eof {
			return // content (or the stream ended)
		}
		// What is left may yet be an empty line: its NULs (a hole) are
		// squeezed to the one that marks it, then more is read.
		if n := len(c.buf) - len(parse.TrimPadding(c.buf)); first && n > 1 {
			c.buf = c.buf[:1+copy(c.buf[1:], c.buf[n:])]
		}
		c.read(len(c.buf)+c.blockBytes, false)
	}
}

// emptyLine reports whether b starts with an empty line ("\n", "\r\n",
// after NULs when first) and its length; when it does not, n is how
// many of b's bytes could still start one (all of b: it may yet be).
func emptyLine(b []byte, first bool) (n int, complete bool) {
	for first && n < len(b) && b[n] == 0 {
		n++
	}
	if n < len(b) && b[n] == '\r' {
		n++
	}
	switch {
	case n < len(b) && b[n] == '\n':
		return n + 1, true
	case n == len(b):
		return n, false
	}
	return 0, false
}

// emptyLines hands out, in dst's array, the empty lines skipEmptyStart
// consumed: "\n" each (NextLine reads "\r\n" alike), the first after
// the NUL that marked a hole before it.
func (c *Cutter) emptyLines(dst []byte) Block {
	n := int(min(c.empty, int64(c.blockBytes)))
	if cap(dst) < n+1 {
		dst = make([]byte, 0, max(c.blockBytes, n+1))
	}
	out := dst[:0]
	if c.padded {
		out = append(out, 0)
		c.padded = false
	}
	for range n {
		out = append(out, '\n')
	}
	b := Block{Lines: out, FirstLine: c.line}
	c.line += int64(n)
	c.empty -= int64(n)
	return b
}
