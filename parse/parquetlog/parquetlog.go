// Package parquetlog reads access logs stored as Parquet (CloudFront
// standard logs delivered as Parquet, ALB logs converted by Athena or
// Glue, keyrate's own exports) as a parse.RecordSource. It projects only
// the columns a Record needs and walks Arrow record batches, so memory
// grows with the batch size, not the file.
package parquetlog

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/keyrate/keyrate/parse"
)

// batchRows is how many rows each Arrow record batch holds.
const batchRows = 16 << 10

// Source reads one Parquet file.
type Source struct {
	f      *os.File
	pf     *file.Reader
	rr     pqarrow.RecordReader
	mapper *parse.ColumnMapper
	cols   []int // mapper column index of each projected batch column
	batch  arrow.Record
	i, n   int
	row    int64
	text   []byte
	offs   []int
}

// Open opens path and prepares to read the columns that fill a Record,
// named by the default role names and the --field map in o.
func Open(path string, o parse.FormatOptions) (parse.RecordSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := newSource(f, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func newSource(f *os.File, o parse.FormatOptions) (*Source, error) {
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	schema := pf.MetaData().Schema
	names := make([]string, schema.NumColumns())
	for i := range names {
		names[i] = schema.Column(i).Name()
	}
	mapper := parse.NewColumnMapper(names, o)
	needed := mapper.Needed()
	if len(needed) == 0 {
		pf.Close()
		return nil, fmt.Errorf("no column is a known role (columns: %v); map them with --field, e.g. --field time=ts", names)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, err
	}
	rr, err := fr.GetRecordReader(context.Background(), needed, nil)
	if err != nil {
		pf.Close()
		return nil, err
	}
	return &Source{f: f, pf: pf, rr: rr, mapper: mapper, cols: needed}, nil
}

// Format implements parse.RecordSource.
func (s *Source) Format() string { return "parquet" }

// Row implements parse.RecordSource.
func (s *Source) Row() int64 { return s.row }

// Next implements parse.RecordSource.
func (s *Source) Next(rec *parse.Record) error {
	for s.batch == nil || s.i >= s.n {
		if !s.rr.Next() {
			if err := s.rr.Err(); err != nil && err != io.EOF {
				return err
			}
			return io.EOF
		}
		s.batch = s.rr.Record()
		s.i, s.n = 0, int(s.batch.NumRows())
	}
	i := s.i
	s.i++
	s.row++
	// Render every projected cell as text into one buffer, then hand out
	// slices: the buffer may grow while rendering, never afterwards.
	s.text, s.offs = s.text[:0], s.offs[:0]
	for c := range s.cols {
		start := len(s.text)
		var null bool
		s.text, null = appendCell(s.text, s.batch.Column(c), i)
		if null {
			start = -1
		}
		s.offs = append(s.offs, start, len(s.text))
	}
	s.mapper.Reset()
	for c, col := range s.cols {
		start, end := s.offs[2*c], s.offs[2*c+1]
		if start < 0 {
			continue
		}
		s.mapper.Set(col, s.text[start:end:end])
	}
	if err := s.mapper.Fill(rec); err != nil {
		if err == parse.ErrNoRecord {
			return &parse.SyntaxError{Msg: "row has no request or status column value"}
		}
		return err
	}
	return nil
}

// appendCell appends the text of arr[i]; null reports a null cell.
func appendCell(dst []byte, arr arrow.Array, i int) ([]byte, bool) {
	if arr.IsNull(i) {
		return dst, true
	}
	switch a := arr.(type) {
	case *array.String:
		return append(dst, a.Value(i)...), false
	case *array.LargeString:
		return append(dst, a.Value(i)...), false
	case *array.Binary:
		return append(dst, a.Value(i)...), false
	case *array.LargeBinary:
		return append(dst, a.Value(i)...), false
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), false
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), false
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), false
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10), false
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10), false
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10), false
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10), false
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10), false
	case *array.Float32:
		return appendFloat(dst, float64(a.Value(i))), false
	case *array.Float64:
		return appendFloat(dst, a.Value(i)), false
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i)), false
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).UTC()
		if unit == arrow.Second {
			return t.AppendFormat(dst, "2006-01-02T15:04:05Z"), false
		}
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z"), false
	case *array.Date32:
		return a.Value(i).ToTime().UTC().AppendFormat(dst, time.DateOnly), false
	case *array.Date64:
		return a.Value(i).ToTime().UTC().AppendFormat(dst, time.DateOnly), false
	case *array.Dictionary:
		return appendCell(dst, a.Dictionary(), a.GetValueIndex(i))
	}
	return append(dst, arr.ValueStr(i)...), false
}

func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// Close implements parse.RecordSource.
func (s *Source) Close() error {
	s.rr.Release()
	return s.pf.Close()
}
