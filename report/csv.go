package report

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// csvColumns describes how to turn a row struct into CSV cells. Column
// names come from the same `parquet` tags that define the Parquet schema,
// so the two formats cannot drift apart.
type csvColumns struct {
	names  []string
	fields []int
}

func columnsOf(t reflect.Type) csvColumns {
	var c csvColumns
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("parquet")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = t.Field(i).Name
		}
		c.names = append(c.names, name)
		c.fields = append(c.fields, i)
	}
	return c
}

// csvTable writes rows of one struct type as RFC 4180 CSV with a header.
// Cells are appended straight into one reused line buffer: report tables
// can have millions of rows, and going through []string and
// reflect.Value.Interface cost an allocation per cell.
type csvTable[T any] struct {
	w     *bufio.Writer
	cols  csvColumns
	kinds []cellKind
	line  []byte
	times timeAppender
	// raw turns off formula-injection protection (--csv-raw).
	raw bool
}

// cellKind says how a column's Go value becomes text.
type cellKind uint8

const (
	cellString cellKind = iota
	cellInt
	cellFloat
	cellBool
	cellTime
)

var timeType = reflect.TypeFor[time.Time]()

func kindOf(t reflect.Type) (cellKind, error) {
	switch {
	case t == timeType:
		return cellTime, nil
	case t.Kind() == reflect.String:
		return cellString, nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return cellInt, nil
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		return cellFloat, nil
	case t.Kind() == reflect.Bool:
		return cellBool, nil
	}
	return 0, fmt.Errorf("report: no CSV form for column type %s", t)
}

func newCSVTable[T any](w io.Writer, raw bool) (*csvTable[T], error) {
	rt := reflect.TypeFor[T]()
	t := &csvTable[T]{w: bufio.NewWriterSize(w, 64<<10), cols: columnsOf(rt), raw: raw}
	for _, f := range t.cols.fields {
		k, err := kindOf(rt.Field(f).Type)
		if err != nil {
			return nil, err
		}
		t.kinds = append(t.kinds, k)
	}
	t.line = t.line[:0]
	for i, name := range t.cols.names {
		if i > 0 {
			t.line = append(t.line, ',')
		}
		t.line = appendCSVField(t.line, 0, name)
	}
	_, err := t.w.Write(append(t.line, '\n'))
	return t, err
}

func (t *csvTable[T]) write(row *T) error {
	v := reflect.ValueOf(row).Elem()
	b := t.line[:0]
	for i, f := range t.cols.fields {
		if i > 0 {
			b = append(b, ',')
		}
		fv := v.Field(f)
		switch t.kinds[i] {
		case cellString:
			s := fv.String()
			var guard byte
			if !t.raw && isFormula(s) {
				guard = '\''
			}
			b = appendCSVField(b, guard, s)
		case cellInt:
			b = strconv.AppendInt(b, fv.Int(), 10)
		case cellFloat:
			b = strconv.AppendFloat(b, fv.Float(), 'g', -1, 64)
		case cellBool:
			b = strconv.AppendBool(b, fv.Bool())
		case cellTime:
			// A pointer in an interface does not allocate.
			b = t.times.append(b, *fv.Addr().Interface().(*time.Time))
		}
	}
	t.line = append(b, '\n')
	_, err := t.w.Write(t.line)
	return err
}

func (t *csvTable[T]) close() error {
	return t.w.Flush()
}

// appendCSVField appends one cell, prefixed with guard unless it is 0,
// quoted exactly when encoding/csv would quote it: when it holds a comma,
// a quote, CR or LF, starts with white space, or is `\.`. Quotes inside
// are doubled.
func appendCSVField(b []byte, guard byte, s string) []byte {
	needs := false
	if guard == 0 {
		r, _ := utf8.DecodeRuneInString(s)
		needs = s == `\.` || (s != "" && unicode.IsSpace(r))
	}
	for i := 0; i < len(s) && !needs; i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			needs = true
		}
	}
	if !needs {
		if guard != 0 {
			b = append(b, guard)
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if guard != 0 {
		b = append(b, guard)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// isFormula reports whether a spreadsheet would run cell s as a formula
// (OWASP "CSV injection"): text starting with =, +, -, @, tab or carriage
// return. Such string cells get a leading single quote, which
// spreadsheets show as text and do not display. Only string cells are
// checked, never numbers or timestamps, so a negative number stays a
// number.
func isFormula(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
