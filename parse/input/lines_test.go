package input

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keyrate/keyrate/parse"
)

func readAll(t *testing.T, lr *LineReader) (lines []string, tooLong []int64) {
	t.Helper()
	for {
		b, err := lr.Next()
		switch {
		case err == io.EOF:
			return lines, tooLong
		case errors.Is(err, parse.ErrLineTooLong):
			tooLong = append(tooLong, lr.Line())
		case err != nil:
			t.Fatal(err)
		default:
			lines = append(lines, string(b))
		}
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a\r\nb\n\n" + long + "\nc\n" + long + long + "\nlast-without-newline"
	// A one-byte reader exercises every buffer boundary.
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(in)), 50)
	lines, tooLong := readAll(t, lr)
	want := []string{"a", "b", "", "c", "last-without-newline"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if len(tooLong) != 2 || tooLong[0] != 4 || tooLong[1] != 6 {
		t.Errorf("too-long lines at %v, want [4 6]", tooLong)
	}
	if lr.Line() != 7 {
		t.Errorf("Line() = %d, want 7", lr.Line())
	}
}

func TestLineReaderSkipsHugeLineWithoutBufferingIt(t *testing.T) {
	// 8 MiB without a newline, then a normal line: the reader's buffer
	// stays at its fixed size and the next line is still read.
	huge := strings.Repeat("y", 8<<20)
	lr := NewLineReader(strings.NewReader(huge+"\nok\n"), 1024)
	lines, tooLong := readAll(t, lr)
	if len(tooLong) != 1 || len(lines) != 1 || lines[0] != "ok" {
		t.Errorf("lines %q, too long %v", lines, tooLong)
	}
	if n := max(cap(lr.buf), cap(lr.c.buf)); n > 128<<10 {
		t.Errorf("a buffer grew to %d bytes", n)
	}
}

func TestLineReaderFinalTooLongLine(t *testing.T) {
	lr := NewLineReader(strings.NewReader("ok\n"+strings.Repeat("z", 200<<10)), 10)
	lines, tooLong := readAll(t, lr)
	if len(lines) != 1 || len(tooLong) != 1 || tooLong[0] != 2 {
		t.Errorf("lines %q, too long %v", lines, tooLong)
	}
}
