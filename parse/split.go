package parse

import "bytes"

// The line rules: how bytes are cut into the lines parsers see. Every
// path a line can take (format detection's sample, the directive primer,
// the block parse loop, and input's Cutter and LineReader) goes through
// these functions, so a line reads the same whichever path it takes:
//
//   - a line ends at "\n", and a "\r" just before it belongs to the
//     terminator; a last line without "\n" is a line all the same, and a
//     "\r" it ends with stays (it ends no line);
//   - NUL bytes a line starts with are padding, not the line: a log
//     truncated by logrotate's copytruncate while its writer kept its
//     offset has a hole of NULs before the next line. Parsers see the line
//     without them (TrimPadding), and its length is measured without them
//     (LineTooLong);
//   - a line longer than the maximum (DefaultMaxLineBytes unless the
//     caller sets another) is not parsed: it counts as ErrLineTooLong.

// DefaultMaxLineBytes is the default longest line.
const DefaultMaxLineBytes = 64 << 10

// NextLine splits buf's first line off: line is buf up to its first "\n",
// without the "\n" or "\r\n"; rest is what follows the "\n". Without a
// "\n" in buf, line is all of buf and rest is nil.
func NextLine(buf []byte) (line, rest []byte) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return buf, nil
	}
	line, rest = buf[:i], buf[i+1:]
	if i > 0 && line[i-1] == '\r' {
		line = line[:i-1]
	}
	return line, rest
}

// TrimPadding returns line without the NUL padding it starts with.
func TrimPadding(line []byte) []byte {
	for len(line) > 0 && line[0] == 0 {
		line = line[1:]
	}
	return line
}

// LineTooLong reports whether line, NUL padding aside, is longer than
// maxBytes.
func LineTooLong(line []byte, maxBytes int) bool {
	return len(line) > maxBytes && len(TrimPadding(line)) > maxBytes
}
