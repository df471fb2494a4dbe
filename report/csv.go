package report

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
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
	cells []csvCell
	line  []byte
	times timeAppender
	// raw turns off formula-injection protection (--csv-raw).
	raw bool
}

// csvCell is where a column's value lies in a row and how to read it.
// Rows are read at these offsets rather than through reflect.Value: a
// row's fields then cost a load each, and the writer of the biggest
// table is one of the few serial steps of a run on many cores.
type csvCell struct {
	off  uintptr
	kind cellKind
	size uintptr // an int's or a float's size in bytes
}

// cellKind says how a column's Go value becomes text.
type cellKind uint8

const (
	cellString cellKind = iota
	cellInt
	cellFloat
	cellBool
	cellTime
	// Nullable columns (tagged optional): a zero time, or a nil *int64
	// or *float64, is an empty cell, as Parquet writes them as null.
	cellOptTime
	cellOptInt
	cellOptFloat
)

var timeType = reflect.TypeFor[time.Time]()

func kindOf(f reflect.StructField) (cellKind, error) {
	t := f.Type
	_, opts, _ := strings.Cut(f.Tag.Get("parquet"), ",")
	optional := slices.Contains(strings.Split(opts, ","), "optional")
	switch {
	case t == timeType && optional:
		return cellOptTime, nil
	case t == reflect.TypeFor[*int64]() && optional:
		return cellOptInt, nil
	case t == reflect.TypeFor[*float64]() && optional:
		return cellOptFloat, nil
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
		sf := rt.Field(f)
		k, err := kindOf(sf)
		if err != nil {
			return nil, err
		}
		t.cells = append(t.cells, csvCell{off: sf.Offset, kind: k, size: sf.Type.Size()})
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
	base := unsafe.Pointer(row)
	b := t.line[:0]
	for i, c := range t.cells {
		if i > 0 {
			b = append(b, ',')
		}
		f := unsafe.Add(base, c.off) // a field of *row, of c.kind's type
		switch c.kind {
		case cellString:
			s := *(*string)(f)
			var guard byte
			if !t.raw && isFormula(s) {
				guard = '\''
			}
			b = appendCSVField(b, guard, s)
		case cellInt:
			b = strconv.AppendInt(b, intAt(f, c.size), 10)
		case cellFloat:
			v := *(*float64)(f)
			if c.size == 4 {
				v = float64(*(*float32)(f))
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		case cellBool:
			b = strconv.AppendBool(b, *(*bool)(f))
		case cellTime:
			b = t.times.append(b, *(*time.Time)(f))
		case cellOptTime:
			if v := *(*time.Time)(f); !v.IsZero() {
				b = t.times.append(b, v)
			}
		case cellOptInt:
			if v := *(**int64)(f); v != nil {
				b = strconv.AppendInt(b, *v, 10)
			}
		case cellOptFloat:
			if v := *(**float64)(f); v != nil {
				b = strconv.AppendFloat(b, *v, 'g', -1, 64)
			}
		}
	}
	t.line = append(b, '\n')
	_, err := t.w.Write(t.line)
	return err
}

// intAt reads the signed integer of size bytes at p.
func intAt(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
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
