package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
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

// csvTimeLayout is RFC 3339 in UTC, with milliseconds only when present.
const csvTimeLayout = "2006-01-02T15:04:05.999Z07:00"

// csvTable writes rows of one struct type as RFC 4180 CSV with a header.
type csvTable[T any] struct {
	w      *csv.Writer
	cols   csvColumns
	record []string
	// raw turns off formula-injection protection (--csv-raw).
	raw bool
}

func newCSVTable[T any](w io.Writer, raw bool) (*csvTable[T], error) {
	t := &csvTable[T]{w: csv.NewWriter(w), cols: columnsOf(reflect.TypeFor[T]()), raw: raw}
	t.record = make([]string, len(t.cols.names))
	return t, t.w.Write(t.cols.names)
}

func (t *csvTable[T]) write(row *T) error {
	v := reflect.ValueOf(row).Elem()
	for i, f := range t.cols.fields {
		t.record[i] = formatCell(v.Field(f))
		if !t.raw && v.Field(f).Kind() == reflect.String {
			t.record[i] = neutraliseFormula(t.record[i])
		}
	}
	return t.w.Write(t.record)
}

func (t *csvTable[T]) close() error {
	t.w.Flush()
	return t.w.Error()
}

func formatCell(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		return x
	case time.Time:
		return x.UTC().Format(csvTimeLayout)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v.Interface())
}

// neutraliseFormula defuses a cell that a spreadsheet would run as a
// formula (OWASP "CSV injection"): text starting with =, +, -, @, tab or
// carriage return gets a leading single quote, which spreadsheets show as
// text and do not display. Only string cells pass here, never numbers or
// timestamps, so a negative number stays a number.
func neutraliseFormula(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
