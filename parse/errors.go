package parse

import (
	"errors"
	"strconv"
)

// SyntaxError describes why a parser rejected a line. Col is the 1-based
// byte column where parsing failed, or 0 when unknown.
// Text is the line's text the message quotes ("bad byte count" and the
// field), apart, because any field may hold a key: Reason leaves it out
// where keys must not be shown.
type SyntaxError struct {
	Msg  string
	Col  int
	Text string
}

func (e *SyntaxError) Error() string {
	msg := e.Msg
	if e.Text != "" {
		msg += " " + e.Text
	}
	if e.Col > 0 {
		return "column " + strconv.Itoa(e.Col) + ": " + msg
	}
	return msg
}

// syntaxErr builds a SyntaxError at byte offset off (0-based).
func syntaxErr(off int, msg string) error {
	return &SyntaxError{Msg: msg, Col: off + 1}
}

// syntaxErrText is syntaxErr quoting text, the line's field at off.
func syntaxErrText(off int, msg string, text []byte) error {
	return &SyntaxError{Msg: msg, Col: off + 1, Text: string(text)}
}

// Reason is err as a malformed line's reason. Without showText, the
// line's text a SyntaxError (or an UndetectedError) would quote is left
// out, and the reason says so: a key may sit in any field, and reasons
// are printed and kept where keys are hidden.
func Reason(err error, showText bool) string {
	var se *SyntaxError
	if showText || !errors.As(err, &se) || se.Text == "" {
		return err.Error()
	}
	hidden := *se
	hidden.Msg, hidden.Text = se.Msg+" (text not shown)", ""
	return hidden.Error()
}

// ValueError is a setting parse cannot use: a format name, a layout, a
// field mapping, a key pattern. It names the value and what kind of
// setting it is, so that a caller can say where it came from (the
// command line names the flag).
type ValueError struct {
	Kind  ValueKind
	Value string
	Err   error // what is wrong with it
}

// ValueKind is what a ValueError's value was meant to be.
type ValueKind string

const (
	ValueFormat     ValueKind = "format"
	ValueLayout     ValueKind = "log format"
	ValueFieldMap   ValueKind = "field mapping"
	ValueKeyPattern ValueKind = "key pattern"
	ValueKeySource  ValueKind = "key source"
)

func (e *ValueError) Error() string {
	return string(e.Kind) + " " + strconv.Quote(e.Value) + ": " + e.Err.Error()
}

func (e *ValueError) Unwrap() error { return e.Err }

// UndetectedError is the failure to detect a file's format from its
// head. FirstLine is the head's first non-blank line; "" when the head
// held no complete line.
//
// HideLine leaves the first line out of the message (a key may be in it).
type UndetectedError struct {
	HeadBytes int
	FirstLine string
	HideLine  bool
}

func (e *UndetectedError) Error() string {
	if e.HideLine && e.FirstLine != "" {
		return "no known log format matches its first line (not shown: it may hold a key)"
	}
	if e.FirstLine == "" {
		return "no complete line in the first " + strconv.Itoa(e.HeadBytes) + " bytes to detect the format from"
	}
	return "no known log format matches; first line: " + strconv.Quote(e.FirstLine)
}

// ErrNoRecord is returned by a parser for a line that is well-formed but
// holds no request: a W3C "#Fields:" header, a HAProxy startup message, a
// Caddy log entry from another logger. Such lines are counted as skipped,
// not malformed.
var ErrNoRecord = errors.New("line holds no request record")

// ErrCorrupt marks an error that comes from damaged input data (a
// truncated or garbled columnar file), as opposed to a usage problem such
// as a file with no column keyrate can use: a run told to skip corrupt
// inputs skips the former and never the latter. Test with errors.Is; the error's own
// message says what was wrong.
var ErrCorrupt = errors.New("corrupt input")

// Corrupt marks err as ErrCorrupt, keeping its message.
func Corrupt(err error) error { return corruptError{err} }

type corruptError struct{ err error }

func (e corruptError) Error() string   { return e.err.Error() }
func (e corruptError) Unwrap() []error { return []error{e.err, ErrCorrupt} }

// ErrLineTooLong is reported for a line longer than the reader's limit.
// The line is skipped without being loaded whole.
var ErrLineTooLong = errors.New("line exceeds the maximum line length")

// ErrTimeOutOfRange is reported for a record whose time, in UTC, is not
// within the years 0001 to 9998. Reports write times as RFC 3339, whose
// years have four digits, and a window ends after the time it holds: a
// window of up to a year (the longest a limit may have) of a time in
// 9998 ends within 9999, one of a time in 9999 could end in 10000. No
// access log is that old or that far ahead.
var ErrTimeOutOfRange = errors.New("time outside the years 0001 to 9998 UTC")

// MinTimeMillis and MaxTimeMillis bound the times of valid records:
// 0001-01-01T00:00:00Z and 9998-12-31T23:59:59.999Z.
const (
	MinTimeMillis = -62135596800000
	MaxTimeMillis = 253370764799999
)

// TimeInRange reports whether ms lies within MinTimeMillis and
// MaxTimeMillis.
func TimeInRange(ms int64) bool { return MinTimeMillis <= ms && ms <= MaxTimeMillis }
