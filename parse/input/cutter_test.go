package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/keyrate/keyrate/parse"
)

var errBoom = errors.New("boom")

// event is what a reader of lines makes of one line, or of the stream's
// end: the line's number and its text as parsers see it (NUL padding
// trimmed, marked "+pad"), "too long", or how the stream ended.
func lineEvent(n int64, line []byte, err error) string {
	if err != nil {
		return fmt.Sprintf("%d: %v", n, err)
	}
	ev := fmt.Sprintf("%d:%q", n, parse.TrimPadding(line))
	if len(line) > 0 && line[0] == 0 {
		ev += "+pad"
	}
	return ev
}

func endEvent(err error) string {
	if err == io.EOF {
		return "EOF"
	}
	return "error: " + err.Error()
}

// cutEvents cuts r with a Cutter into blocks of blockBytes and splits
// them by the line rules, as the pipeline does, after peeking peek bytes
// (0: none) as detection does; bufCap is the largest buffer the Cutter
// used.
func cutEvents(r io.Reader, maxLine, blockBytes, peek int) (events []string, bufCap int) {
	c := NewCutter(r, maxLine, blockBytes)
	if peek > 0 {
		c.Peek(peek)
		bufCap = cap(c.buf)
	}
	var dst []byte
	for {
		b, err := c.Next(dst)
		if err != nil {
			return append(events, endEvent(err)), max(bufCap, cap(c.buf))
		}
		if b.TooLong {
			events = append(events, lineEvent(b.FirstLine, nil, parse.ErrLineTooLong))
			continue
		}
		bufCap = max(bufCap, cap(b.Lines), cap(c.buf))
		n := b.FirstLine
		for rest := b.Lines; len(rest) > 0; n++ {
			var line []byte
			line, rest = parse.NextLine(rest)
			var err error
			if parse.LineTooLong(line, c.max) {
				err = parse.ErrLineTooLong
			}
			events = append(events, lineEvent(n, line, err))
		}
		dst = b.Lines
	}
}

func lineReaderEvents(r io.Reader, maxLine int) []string {
	lr := NewLineReader(r, maxLine)
	var events []string
	for {
		line, err := lr.Next()
		switch {
		case err == nil || errors.Is(err, parse.ErrLineTooLong):
			events = append(events, lineEvent(lr.Line(), line, err))
		default:
			return append(events, endEvent(err))
		}
	}
}

// TestLineSplitting is the line rules applied to streams, by the Cutter
// (with blocks of every size, and reads of every size) and by the
// LineReader built on it: each case must read as the same lines.
func TestLineSplitting(t *testing.T) {
	hole := strings.Repeat("\x00", 200_000) // longer than any block here
	huge := strings.Repeat("y", 1<<20)
	for _, c := range []struct {
		name   string
		in     string
		max    int
		err    error // the stream fails with it after in
		events []string
	}{
		{name: "LF and CRLF", in: "a\nb\r\nc\n", max: 10,
			events: []string{`1:"a"`, `2:"b"`, `3:"c"`, "EOF"}},
		{name: "empty lines count", in: "\n\r\nx\n", max: 10,
			events: []string{`1:""`, `2:""`, `3:"x"`, "EOF"}},
		{name: "a last line without terminator", in: "a\nlast", max: 10,
			events: []string{`1:"a"`, `2:"last"`, "EOF"}},
		{name: "a lone final CR stays", in: "a\r\nb\r", max: 10,
			events: []string{`1:"a"`, `2:"b\r"`, "EOF"}},
		{name: "NUL padding at a line start", in: "a\n\x00\x00b\nc\x00\n", max: 10,
			events: []string{`1:"a"`, `2:"b"+pad`, `3:"c\x00"`, "EOF"}},
		{name: "a NUL hole longer than a block", in: "a\n" + hole + "b\nc\n", max: 10,
			events: []string{`1:"a"`, `2:"b"+pad`, `3:"c"`, "EOF"}},
		{name: "a hole to the end", in: "a\n" + hole, max: 10,
			events: []string{`1:"a"`, `2:""+pad`, "EOF"}},
		{name: "the maximum is measured without padding", in: "\x00\x00\x00abcd\n\x00abcde\nabcd\r\n\x00abcd\r\n", max: 4,
			events: []string{`1:"abcd"+pad`, "2: " + parse.ErrLineTooLong.Error(), `3:"abcd"`, `4:"abcd"+pad`, "EOF"}},
		{name: "over-long lines are skipped", in: "ok\n" + huge + "\nabcdefghijklmnop\nfine\n", max: 10,
			events: []string{`1:"ok"`, "2: " + parse.ErrLineTooLong.Error(), "3: " + parse.ErrLineTooLong.Error(), `4:"fine"`, "EOF"}},
		{name: "an over-long last line without terminator", in: "ok\n" + huge, max: 10,
			events: []string{`1:"ok"`, "2: " + parse.ErrLineTooLong.Error(), "EOF"}},
		{name: "a read error after a partial line", in: "a\nb\npart", max: 10, err: errBoom,
			events: []string{`1:"a"`, `2:"b"`, "error: boom"}},
		{name: "a read error after a whole line", in: "a\n", max: 10, err: errBoom,
			events: []string{`1:"a"`, "error: boom"}},
		{name: "a read error inside an over-long line", in: "a\n" + huge, max: 10, err: errBoom,
			events: []string{`1:"a"`, "2: " + parse.ErrLineTooLong.Error(), "error: boom"}},
		{name: "empty", in: "", max: 10, events: []string{"EOF"}},
	} {
		stream := func(chunk int) io.Reader {
			var r io.Reader = strings.NewReader(c.in)
			if c.err != nil {
				r = io.MultiReader(r, iotest.ErrReader(c.err))
			}
			if chunk > 0 {
				r = &chunkReader{r: r, n: chunk}
			}
			return r
		}
		want := strings.Join(c.events, "\n")
		for _, block := range []int{1, 7, 64, 256 << 10} {
			for _, chunk := range []int{0, 1, 5} {
				for _, peek := range []int{0, 3, 64 << 10} {
					if chunk == 1 && len(c.in) > 100_000 {
						continue // a byte at a time through megabytes: slow, and no news
					}
					got, bufCap := cutEvents(stream(chunk), c.max, block, peek)
					if g := strings.Join(got, "\n"); g != want {
						t.Errorf("%s, blocks of %d, reads of %d, peek %d:\n%s\nwant\n%s", c.name, block, chunk, peek, g, want)
					}
					// An over-long line or a hole is never held whole.
					if limit := max(block, c.max+3, 64<<10); bufCap > limit {
						t.Errorf("%s, blocks of %d, reads of %d, peek %d: a buffer of %d bytes, over %d", c.name, block, chunk, peek, bufCap, limit)
					}
				}
			}
		}
		if g := strings.Join(lineReaderEvents(stream(5), c.max), "\n"); g != want {
			t.Errorf("%s, LineReader:\n%s\nwant\n%s", c.name, g, want)
		}
	}
}

// chunkReader reads at most n bytes at a time.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestCutterDoesNotHoldLinesBack: the lines a slow stream writes (a log
// piped in as it is written) come out without waiting for a whole block.
func TestCutterDoesNotHoldLinesBack(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		pw.Write([]byte("a\n"))
		time.Sleep(2 * maxFillDelay)
		pw.Write([]byte("b\nc"))
	}()
	c := NewCutter(pr, 0, 256<<10)
	got := make(chan string, 1)
	go func() {
		b, err := c.Next(nil)
		got <- fmt.Sprintf("%q %v", b.Lines, err)
	}()
	select {
	case g := <-got:
		if g != `"a\nb\n" <nil>` {
			t.Errorf("Next = %s", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next waits for a whole block")
	}
}

// TestCutterPeekThenNext: detection peeks, then the blocks start at the
// stream's first byte.
func TestCutterPeekThenNext(t *testing.T) {
	c := NewCutter(strings.NewReader("a\nb\n"), 0, 64)
	if head, atEOF, err := c.Peek(1 << 30); string(head) != "a\nb\n" || !atEOF || err != nil {
		t.Fatalf("Peek = %q, %v, %v", head, atEOF, err)
	}
	b, err := c.Next(nil)
	if string(b.Lines) != "a\nb\n" || b.FirstLine != 1 || err != nil {
		t.Fatalf("Next = %q from line %d, %v", b.Lines, b.FirstLine, err)
	}
	c.Reset(strings.NewReader("c"))
	if b, err := c.Next(b.Lines); string(b.Lines) != "c" || b.FirstLine != 1 || err != nil {
		t.Fatalf("after Reset: Next = %q from line %d, %v", b.Lines, b.FirstLine, err)
	}
}

// wholeEvents is the reference for cutting: data split as one buffer by
// the line rules, as if no block boundary fell anywhere.
func wholeEvents(data []byte, maxLine int) []string {
	var events []string
	n := int64(1)
	for rest := data; len(rest) > 0; n++ {
		var line []byte
		line, rest = parse.NextLine(rest)
		var err error
		if parse.LineTooLong(line, maxLine) {
			err = parse.ErrLineTooLong
		}
		events = append(events, lineEvent(n, line, err))
	}
	return append(events, "EOF")
}

// FuzzCutter: however a stream is cut into blocks and read, its lines
// are the ones the line rules give for the whole stream at once.
func FuzzCutter(f *testing.F) {
	f.Add([]byte("a\r\nb\n\x00\x00c\nlong line\r"), uint16(3), uint8(4), uint8(2))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00abcd\r\n\x00abcd\r\nabcde\n"), uint16(1), uint8(4), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, block uint16, maxLine, chunk uint8) {
		maxLine = max(maxLine, 1)
		var r io.Reader = bytes.NewReader(data)
		if chunk > 0 {
			r = &chunkReader{r: r, n: int(chunk)}
		}
		want := strings.Join(wholeEvents(data, int(maxLine)), "\n")
		got, _ := cutEvents(r, int(maxLine), int(block)+1, int(chunk)%3)
		if g := strings.Join(got, "\n"); g != want {
			t.Fatalf("blocks of %d, reads of %d, peek %d:\n%s\nwant\n%s", int(block)+1, chunk, int(chunk)%3, g, want)
		}
		if g := strings.Join(lineReaderEvents(bytes.NewReader(data), int(maxLine)), "\n"); g != want {
			t.Fatalf("LineReader:\n%s\nwant\n%s", g, want)
		}
	})
}

// The case: a file starting with 64 KiB of empty lines failed
// detection ("no complete line in the first 65538 bytes"). Peek skips
// them, however many, without holding them, as it sees past a NUL hole;
// Next still hands them out, so lines and their numbers stay the file's.
func TestPeekSeesPastEmptyLines(t *testing.T) {
	for _, c := range []struct {
		name, start string
		n           int
		pad         bool
	}{
		{"LF", "\n", 1 << 20, false},
		{"CRLF", "\r\n", 100_000, false},
		{"a hole, then empty lines", "\n", 70_000, true},
	} {
		in := strings.Repeat(c.start, c.n) + "first line\nsecond\n"
		if c.pad {
			in = strings.Repeat("\x00", 5000) + in
		}
		cut := NewCutter(&chunkReader{r: strings.NewReader(in), n: 4096}, 0, 64<<10)
		head, atEOF, err := cut.Peek(64 << 10)
		if string(head) != "first line\nsecond\n" || !atEOF || err != nil {
			t.Errorf("%s: Peek = %.40q, %v, %v", c.name, head, atEOF, err)
		}
		if cap(cut.buf) > 256<<10 {
			t.Errorf("%s: Peek held %d bytes", c.name, cap(cut.buf))
		}
		var got []string
		var dst []byte
		for {
			b, err := cut.Next(dst)
			if err != nil {
				break
			}
			n := b.FirstLine
			for rest := b.Lines; len(rest) > 0; n++ {
				var line []byte
				line, rest = parse.NextLine(rest)
				if len(line) > 0 || n == 1 {
					got = append(got, lineEvent(n, line, nil))
				}
			}
			dst = b.Lines
		}
		want := []string{`1:""`, fmt.Sprintf(`%d:"first line"`, c.n+1), fmt.Sprintf(`%d:"second"`, c.n+2)}
		if c.pad {
			want[0] += "+pad"
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: lines %v, want %v", c.name, got, want)
		}
	}
}

// A line longer than a block is read into one buffer that doubles: the
// largest buffer is under twice the line, and the buffers it outgrew were
// copied, not kept (see grow).
func TestLongLineBuffer(t *testing.T) {
	long := strings.Repeat("x", 10<<20)
	in := "a\n" + long + "\nb\n"
	_, bufCap := cutEvents(strings.NewReader(in), 16<<20, 64<<10, 64<<10)
	if bufCap < len(long) || bufCap > 2*len(long) {
		t.Errorf("largest buffer %d bytes for a line of %d", bufCap, len(long))
	}
	got, _ := cutEvents(strings.NewReader(in), 16<<20, 64<<10, 64<<10)
	if len(got) != 4 || got[0] != `1:"a"` || got[2] != `3:"b"` || len(got[1]) != len(long)+4 {
		t.Errorf("events %.60q", got)
	}
	// grow copies a large buffer's bytes exactly, releasing its pages.
	old := make([]byte, 9<<20, 10<<20)
	for i := range old {
		old[i] = byte(i * 7)
	}
	want := bytes.Clone(old)
	if nb := grow(old, 20<<20); !bytes.Equal(nb, want) || cap(nb) != 20<<20 {
		t.Error("grow lost bytes")
	}
}
