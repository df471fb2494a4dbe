package parse

// Stateful is implemented by line parsers whose parse of a line depends on
// earlier lines of the same file (W3C and CloudFront logs declare their
// columns in "#Fields:" header lines). The pipeline reads such a file
// whole, in order, with one parser; a parser that does not implement
// Stateful (or returns false) must parse every line on its own, so a file
// in its format may be cut into blocks parsed by several workers.
type Stateful interface {
	Stateful() bool
}

// IsStateful reports whether p depends on earlier lines (see Stateful).
func IsStateful(p LineParser) bool {
	s, ok := p.(Stateful)
	return ok && s.Stateful()
}

// Stateful implements Stateful: "#Fields:" lines change how later lines
// parse.
func (p *W3C) Stateful() bool { return true }
