package parse

import (
	"strings"
	"testing"
)

// TestLineRules: the per-line rules every reader of lines applies. (How a
// stream is cut into such lines, with holes, over-long lines and read
// errors, is input's Cutter's test.)
func TestLineRules(t *testing.T) {
	for _, c := range []struct {
		name, buf, line, rest, unpadded string
		restNil                         bool
		tooLong                         bool // over a 4-byte maximum
	}{
		{name: "LF", buf: "ab\ncd", line: "ab", rest: "cd", unpadded: "ab"},
		{name: "CRLF", buf: "ab\r\ncd", line: "ab", rest: "cd", unpadded: "ab"},
		{name: "only the CR before LF is the terminator's", buf: "ab\r\r\n", line: "ab\r", unpadded: "ab\r"},
		{name: "a lone final CR stays", buf: "ab\r", line: "ab\r", restNil: true, unpadded: "ab\r"},
		{name: "a CR mid-line stays", buf: "a\rb\n", line: "a\rb", unpadded: "a\rb"},
		{name: "last line without terminator", buf: "abc", line: "abc", restNil: true, unpadded: "abc"},
		{name: "empty line", buf: "\nx", line: "", rest: "x", unpadded: ""},
		{name: "CRLF alone", buf: "\r\n", line: "", unpadded: ""},
		{name: "empty buffer", buf: "", line: "", restNil: true, unpadded: ""},
		{name: "NUL padding at the start", buf: "\x00\x00ab\n", line: "\x00\x00ab", unpadded: "ab"},
		{name: "NULs after the start are content", buf: "a\x00b\x00\n", line: "a\x00b\x00", unpadded: "a\x00b\x00"},
		{name: "only padding", buf: "\x00\x00\x00\n", line: "\x00\x00\x00", unpadded: ""},
		{name: "the maximum is measured without padding", buf: "\x00\x00\x00abcd\n", line: "\x00\x00\x00abcd", unpadded: "abcd"},
		{name: "over the maximum", buf: "\x00abcde\r\n", line: "\x00abcde", unpadded: "abcde", tooLong: true},
		{name: "the terminator does not count", buf: "abcd\r\n", line: "abcd", unpadded: "abcd"},
		{name: "a final CR counts", buf: "abcd\r", line: "abcd\r", restNil: true, unpadded: "abcd\r", tooLong: true},
	} {
		line, rest := NextLine([]byte(c.buf))
		if string(line) != c.line || string(rest) != c.rest || (rest == nil) != c.restNil {
			t.Errorf("%s: NextLine(%q) = %q, %q (nil %v); want %q, %q (nil %v)", c.name, c.buf, line, rest, rest == nil, c.line, c.rest, c.restNil)
		}
		if got := TrimPadding(line); string(got) != c.unpadded {
			t.Errorf("%s: TrimPadding(%q) = %q, want %q", c.name, line, got, c.unpadded)
		}
		if got := LineTooLong(line, 4); got != c.tooLong {
			t.Errorf("%s: LineTooLong(%q, 4) = %v, want %v", c.name, line, got, c.tooLong)
		}
	}
	// Splitting a buffer line by line yields every line once, in order.
	buf := []byte("a\r\n\x00b\n\nc\r")
	var got []string
	for rest := buf; len(rest) > 0; {
		var line []byte
		line, rest = NextLine(rest)
		got = append(got, string(line))
	}
	if want := []string{"a", "\x00b", "", "c\r"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}
