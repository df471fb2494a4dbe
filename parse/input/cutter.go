package input

import (
	"bufio"
	"bytes"
	"errors"
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
type Cutter struct {
	r          *bufio.Reader
	max        int
	blockBytes int
	line       int64  // number of the next line to start
	carry      []byte // the partial line at the end of the last block
	skipping   bool   // inside an over-long line, discarding to its end
	eof        bool   // the stream ended, or failed with err
	err        error
}

// NewCutter cuts r into blocks of about blockBytes bytes (they grow to
// hold a line longer than that whole) with lines of at most maxLine bytes
// (<= 0: parse.DefaultMaxLineBytes).
func NewCutter(r io.Reader, maxLine, blockBytes int) *Cutter {
	if maxLine <= 0 {
		maxLine = parse.DefaultMaxLineBytes
	}
	// The read buffer is what Peek sees of the stream: a maximal line
	// and its "\r\n" fit in it.
	size := max(maxLine+2, 64<<10)
	return &Cutter{r: bufio.NewReaderSize(r, size), max: maxLine, blockBytes: blockBytes, line: 1}
}

// Reset makes c cut r, from line 1, keeping its buffers.
func (c *Cutter) Reset(r io.Reader) {
	c.r.Reset(r)
	c.line, c.carry, c.skipping, c.eof, c.err = 1, c.carry[:0], false, false, nil
}

// Peek returns up to n bytes ahead (at most the read buffer's size)
// without consuming them, for format detection; call it before the
// first Next. atEOF reports that they are all that can be read of the
// input. err is a read error met while filling the buffer (a corrupt or
// truncated stream): head still holds what was read before it, and Next
// reports the error again once past head.
func (c *Cutter) Peek(n int) (head []byte, atEOF bool, err error) {
	head, err = c.r.Peek(min(n, c.r.Size()))
	switch {
	case err == nil || errors.Is(err, bufio.ErrBufferFull):
		return head, false, nil
	case err == io.EOF:
		return head, true, nil
	}
	return head, true, err
}

// Next returns the next block. Its Lines reuse dst's array from the
// start, or a larger one when dst's capacity is short of the block size
// or of a long line; a marker leaves dst unused. At the end of the stream
// Next returns io.EOF. A read error is returned after the whole lines
// read before it (the partial line it cut is lost), and again by every
// later call.
func (c *Cutter) Next(dst []byte) (Block, error) {
	for !c.eof {
		buf := c.fill(dst)
		dst = buf[:0]
		if c.skipping {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 && !c.eof {
				continue
			}
			c.skipping = false
			if i < 0 {
				buf = buf[:0] // the over-long line ran to the end: already counted
			} else {
				buf = buf[:copy(buf, buf[i+1:])]
			}
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if c.eof && c.err == nil {
			cut = len(buf) // a last line without terminator is a line
		}
		if cut == 0 {
			if c.eof {
				break // a read error after a partial line: the line is lost
			}
			// No line ends in a full block. Its NUL padding (a hole
			// mid-file, however long) is not the line: one NUL is kept
			// to mark it, the rest dropped, as the line rules would.
			if len(buf) > 0 && buf[0] == 0 {
				if n := len(buf) - len(parse.TrimPadding(buf)); n > 1 {
					buf = buf[:1+copy(buf[1:], buf[n:])]
				}
			}
			// Then either the line is over the limit (skip it without
			// buffering it whole) or the block size is below the limit
			// (carry it into a larger block).
			if parse.LineTooLong(buf, c.max+1) { // +1: room for a "\r"
				b := Block{FirstLine: c.line, TooLong: true}
				c.line++
				c.skipping = true
				return b, nil
			}
			c.carry = append(c.carry, buf...)
			continue
		}
		c.carry = append(c.carry, buf[cut:]...)
		b := Block{Lines: buf[:cut], FirstLine: c.line}
		c.line += int64(bytes.Count(b.Lines, []byte{'\n'}))
		return b, nil
	}
	if c.err != nil {
		return Block{}, c.err
	}
	return Block{}, io.EOF
}

// fill returns dst (or a larger buffer) holding the carried partial line
// and what the stream reads after it, up to the block size, the end of
// the stream, or maxFillDelay.
func (c *Cutter) fill(dst []byte) []byte {
	target := max(c.blockBytes, 2*len(c.carry))
	if cap(dst) < target {
		dst = make([]byte, 0, target)
	}
	buf := append(dst[:0], c.carry...)
	c.carry = c.carry[:0]
	started := time.Now()
	for len(buf) < target && !c.eof {
		n, err := c.r.Read(buf[len(buf):target])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			c.eof, c.err = true, err
		}
		if time.Since(started) > maxFillDelay {
			break
		}
	}
	return buf
}
