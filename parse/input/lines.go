package input

import (
	"io"

	"github.com/keyrate/keyrate/parse"
)

// lineBlockBytes is the size of the blocks a LineReader reads lines
// from.
const lineBlockBytes = 64 << 10

// LineReader splits a stream into lines, like bufio.Scanner, by the same
// rules as the Cutter it reads blocks from: an over-long line is reported
// as parse.ErrLineTooLong and skipped without being buffered whole, so
// one corrupt multi-gigabyte "line" cannot exhaust memory, and a line's
// NUL padding is left on it (parse.TrimPadding drops it) but not counted
// against the maximum.
type LineReader struct {
	c    *Cutter
	buf  []byte // the block last read
	rest []byte // its lines not yet returned
	line int64
}

// NewLineReader reads lines of at most maxBytes bytes (excluding the line
// terminator) from r; maxBytes <= 0 selects parse.DefaultMaxLineBytes.
func NewLineReader(r io.Reader, maxBytes int) *LineReader {
	return &LineReader{c: NewCutter(r, maxBytes, lineBlockBytes)}
}

// Reset makes l read lines from r, from line 1, keeping its buffers.
func (l *LineReader) Reset(r io.Reader) {
	l.c.Reset(r)
	l.rest, l.line = nil, 0
}

// Line returns the 1-based number of the line last returned by Next.
func (l *LineReader) Line() int64 { return l.line }

// Next returns the next line without its "\n" or "\r\n". The slice is valid
// until the next call. At the end of input it returns io.EOF; a final line
// without a terminator is still returned first. An over-long line yields
// parse.ErrLineTooLong (reading can continue); any other error is from
// the underlying reader and ends the stream.
func (l *LineReader) Next() ([]byte, error) {
	for len(l.rest) == 0 {
		b, err := l.c.Next(l.buf)
		if err != nil {
			return nil, err
		}
		if b.TooLong {
			l.line = b.FirstLine
			return nil, parse.ErrLineTooLong
		}
		l.buf, l.rest, l.line = b.Lines, b.Lines, b.FirstLine-1
	}
	var line []byte
	line, l.rest = parse.NextLine(l.rest)
	l.line++
	if parse.LineTooLong(line, l.c.max) {
		return nil, parse.ErrLineTooLong
	}
	return line, nil
}

// Peek is the Cutter's Peek: it looks ahead without consuming, before the
// first Next.
func (l *LineReader) Peek(n int) (head []byte, atEOF bool, err error) {
	return l.c.Peek(n)
}
