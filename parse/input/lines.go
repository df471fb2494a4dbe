package input

import (
	"bufio"
	"errors"
	"io"

	"github.com/keyrate/keyrate/parse"
)

// LineReader splits a stream into lines, like bufio.Scanner, but reports an
// over-long line as parse.ErrLineTooLong and skips it without buffering it whole,
// so one corrupt multi-gigabyte "line" cannot exhaust memory.
type LineReader struct {
	r       *bufio.Reader
	max     int
	line    int64
	tooLong bool
}

// NewLineReader reads lines of at most maxBytes bytes (excluding the line
// terminator) from r; maxBytes <= 0 selects parse.DefaultMaxLineBytes.
func NewLineReader(r io.Reader, maxBytes int) *LineReader {
	if maxBytes <= 0 {
		maxBytes = parse.DefaultMaxLineBytes
	}
	size := max(maxBytes+2, 64<<10) // room for "\r\n" after a maximal line
	return &LineReader{r: bufio.NewReaderSize(r, size), max: maxBytes}
}

// Reset makes l read lines from r, from line 1, keeping its buffer.
func (l *LineReader) Reset(r io.Reader) {
	l.r.Reset(r)
	l.line, l.tooLong = 0, false
}

// Line returns the 1-based number of the line last returned by Next.
func (l *LineReader) Line() int64 { return l.line }

// Next returns the next line without its "\n" or "\r\n". The slice is valid
// until the next call. At the end of input it returns io.EOF; a final line
// without a terminator is still returned first. An over-long line yields
// parse.ErrLineTooLong (reading can continue); any other error is from the
// underlying reader and ends the stream.
func (l *LineReader) Next() ([]byte, error) {
	for {
		b, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// The line continues past the buffer: drop this part and keep
			// discarding until its end.
			l.tooLong = true
			continue
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(b) == 0 && err == io.EOF {
			if l.tooLong { // an over-long final line without terminator
				l.tooLong = false
				l.line++
				return nil, parse.ErrLineTooLong
			}
			return nil, io.EOF
		}
		l.line++
		if l.tooLong {
			l.tooLong = false
			return nil, parse.ErrLineTooLong
		}
		if b, _ = parse.NextLine(b); parse.LineTooLong(b, l.max) {
			return nil, parse.ErrLineTooLong
		}
		return b, nil
	}
}

// Peek returns up to n bytes ahead (at most the buffer size) without
// consuming them, for format detection; atEOF reports that they are all
// that can be read of the input. err is a read error met while filling
// the buffer (a corrupt or truncated stream): head still holds what was
// read before it, and Next reports the error again once past head.
func (l *LineReader) Peek(n int) (head []byte, atEOF bool, err error) {
	n = min(n, l.r.Size())
	head, err = l.r.Peek(n)
	switch {
	case err == nil || errors.Is(err, bufio.ErrBufferFull):
		return head, false, nil
	case err == io.EOF:
		return head, true, nil
	}
	return head, true, err
}

// Rest returns the stream from the current position, including what Peek
// buffered, for a caller that reads the remaining bytes itself (cutting
// them into blocks) instead of calling Next. Use either Rest or Next on a
// LineReader, not both.
func (l *LineReader) Rest() io.Reader { return l.r }
