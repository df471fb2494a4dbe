// Package parse turns raw access-log bytes into Records: it holds the
// line rules, parses log formats, detects them, and extracts the API key
// and the request time. It is bytes in, records out: parsers do no I/O
// and start no goroutines; opening and reading inputs is parse/input's
// work, concurrency the pipeline's.
package parse

import "bytes"

// Record is one parsed access-log line. Parsers fill a caller-owned Record
// after Reset, so a steady stream of lines allocates nothing.
//
// Ownership: every []byte field aliases the line passed to the parser (or
// the parser's own scratch buffer) and is valid only until the next call to
// Parse on the same parser. Callers that keep a value must copy it.
type Record struct {
	// TimeMillis is the request time in milliseconds since the Unix epoch,
	// already converted to UTC.
	TimeMillis int64
	// SubSecond reports whether the logged time carried a fraction of a
	// second (its precision is then milliseconds, else seconds).
	SubSecond bool
	// TimeSource says which of the line's times TimeMillis is (the
	// request's arrival, or when the line was written) and how it was
	// derived. Parsers point it at a value they own and never change.
	TimeSource *TimeSource
	// HasRequest reports whether the request field held an HTTP request
	// line (METHOD TARGET [PROTO]). TLS probes and "-" do not; such lines
	// are valid but carry no key.
	HasRequest bool
	Method     []byte
	Target     []byte // request-target as logged: path plus optional ?query
	Proto      []byte
	Status     int
	Bytes      int64
	RemoteAddr []byte
	User       []byte
	Referer    []byte
	UserAgent  []byte
	// Fields holds named values that have no dedicated slot (custom
	// layouts, JSON fields, logged headers). Names are lower case.
	Fields []Field
}

// Field is a named value of a Record.
type Field struct {
	Name  string
	Value []byte
}

// Reset clears r for reuse, keeping the capacity of Fields.
func (r *Record) Reset() {
	fields := r.Fields[:0]
	*r = Record{Fields: fields}
}

// Field returns the value of the named extra field, or nil.
func (r *Record) Field(name string) []byte {
	for i := range r.Fields {
		if r.Fields[i].Name == name {
			return r.Fields[i].Value
		}
	}
	return nil
}

// Path returns the request target without its query string.
func (r *Record) Path() []byte {
	for i, c := range r.Target {
		if c == '?' {
			return r.Target[:i]
		}
	}
	return r.Target
}

// Query returns the raw query string of the request target, without '?'.
func (r *Record) Query() []byte {
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		return r.Target[i+1:]
	}
	return nil
}

// LineParser parses one log line into rec. The line excludes its line
// terminator and is owned by the caller; rec's slices may alias it.
// A parser returns a *SyntaxError for a line it cannot read.
type LineParser interface {
	Parse(line []byte, rec *Record) error
}
