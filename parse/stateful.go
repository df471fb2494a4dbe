package parse

// Stateful is implemented by line parsers whose parse of a line depends on
// earlier lines of the same file: W3C and CloudFront logs declare their
// columns in "#Fields:" lines. Such a parser's state must come only from
// directive lines (see IsDirective), which yield no record, so that a
// file in its format can still be cut into blocks and parsed by several
// workers: the reader feeds each block's directive lines, in order, to a
// primer, and a block is parsed with a clone of the primer as it stood
// at the block's start, exactly as one parser reading the whole file
// would parse it.
type Stateful interface {
	LineParser
	// Clone returns a parser in the same state that shares nothing
	// mutable with the original.
	Clone() Stateful
}

// IsDirective reports whether line, as the pipeline hands lines to a
// parser (without its terminator, leading NUL padding trimmed), is a
// directive of a Stateful format: it starts with '#'.
func IsDirective(line []byte) bool { return len(line) > 0 && line[0] == '#' }

// Clone implements Stateful: only "#Fields:" and "#GMT-Offset:" lines set
// a W3C parser's state; data lines leave it as it was.
func (p *W3C) Clone() Stateful {
	return &W3C{cols: append([]w3cCol(nil), p.cols...), haveTime: p.haveTime, gmtOffset: p.gmtOffset, offsetSet: p.offsetSet, sawFields: p.sawFields, logged: p.logged}
}
