package input

import (
	"io"
	"strings"
	"testing"
)

func TestLineReaderPeekDoesNotConsume(t *testing.T) {
	lr := NewLineReader(strings.NewReader("a\r\nb\n"), 0)
	head, atEOF, _ := lr.Peek(1 << 30)
	if string(head) != "a\r\nb\n" || !atEOF {
		t.Fatalf("Peek = %q, %v", head, atEOF)
	}
	for _, want := range []string{"a", "b"} {
		line, err := lr.Next()
		if err != nil || string(line) != want {
			t.Fatalf("Next = %q, %v; want %q", line, err, want)
		}
	}
	if _, err := lr.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	// A long input: Peek returns at most the buffer and is not at EOF.
	lr = NewLineReader(strings.NewReader(strings.Repeat("x\n", 100000)), 0)
	head, atEOF, _ = lr.Peek(1 << 30)
	if atEOF || len(head) == 0 || len(head) > 200000 {
		t.Fatalf("Peek of a long input: %d bytes, atEOF %v", len(head), atEOF)
	}
}
