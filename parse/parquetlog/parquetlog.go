// Package parquetlog reads access logs stored as Parquet (CloudFront
// standard logs delivered as Parquet, ALB logs converted by Athena or
// Glue, keyrate's own exports) as a parse.RecordSource. It reads only the
// columns a Record needs, a batch of values at a time, with Arrow's
// Parquet column readers, so memory grows with the batch size, not the
// file.
//
// It uses arrow/go's parquet/file package directly rather than pqarrow:
// pqarrow brings Arrow's compute kernels and Flight (gRPC) into the
// binary, which made it 2.6 times larger and cost every run ~17 ms of
// package initialisation, for a conversion to Arrow arrays this reader
// does not need: every cell becomes text for parse.ColumnMapper anyway.
package parquetlog

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/apache/arrow/go/v15/parquet/file"

	"github.com/keyrate/keyrate/parse"
)

// batchRows is how many values each column reads at a time.
const batchRows = 16 << 10

// Source reads one Parquet file.
type Source struct {
	f       *os.File
	pf      *file.Reader
	mapper  *parse.ColumnMapper
	cols    []int    // the Parquet (and mapper) column index of each read column
	readers []column // the current row group's reader of each read column
	rg      int      // the next row group to open
	left    int64    // rows left in the current row group
	row     int64
	text    []byte
	offs    []int
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

func newSource(f *os.File, o parse.FormatOptions) (_ *Source, err error) {
	defer recoverCorrupt(&err)
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, parse.Corrupt(fmt.Errorf("not a readable Parquet file: %w", err))
	}
	sch := pf.MetaData().Schema
	names := make([]string, sch.NumColumns())
	for i := range names {
		names[i] = sch.Column(i).Name()
	}
	mapper := parse.NewColumnMapper(names, o)
	needed := mapper.Needed()
	if len(needed) == 0 {
		pf.Close()
		return nil, &UnmappedError{Columns: names}
	}
	for _, c := range needed {
		if col := sch.Column(c); col.MaxRepetitionLevel() > 0 {
			pf.Close()
			return nil, fmt.Errorf("column %s is repeated (a list); only flat columns can be read", col.Path())
		}
	}
	return &Source{f: f, pf: pf, mapper: mapper, cols: needed}, nil
}

// Format implements parse.RecordSource.
func (s *Source) Format() string { return "parquet" }

// Row implements parse.RecordSource.
func (s *Source) Row() int64 { return s.row }

// Next implements parse.RecordSource.
func (s *Source) Next(rec *parse.Record) (err error) {
	defer recoverCorrupt(&err)
	for s.left == 0 {
		if s.rg == s.pf.NumRowGroups() {
			return io.EOF
		}
		if err := s.openRowGroup(s.rg); err != nil {
			return err
		}
		s.rg++
	}
	s.left--
	s.row++
	// Render every read cell as text into one buffer, then hand out
	// slices: the buffer may grow while rendering, never afterwards.
	s.text, s.offs = s.text[:0], s.offs[:0]
	for _, c := range s.readers {
		start := len(s.text)
		var null bool
		var err error
		if s.text, null, err = c.next(s.text); err != nil {
			return parse.Corrupt(err)
		}
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

// openRowGroup starts reading row group i's chunks of the read columns.
func (s *Source) openRowGroup(i int) error {
	rg := s.pf.RowGroup(i)
	s.readers = s.readers[:0]
	for _, c := range s.cols {
		cr, err := rg.Column(c)
		if err != nil {
			return parse.Corrupt(fmt.Errorf("row group %d: %w", i, err))
		}
		col, err := newColumn(cr)
		if err != nil {
			return fmt.Errorf("row group %d: %w", i, err) // an unsupported type
		}
		s.readers = append(s.readers, col)
	}
	s.left = rg.NumRows()
	return nil
}

// recoverCorrupt turns a panic in Arrow's Parquet decoders, which some
// corrupt files cause (a slice bound from a damaged page header), into
// an error: a corrupt input fails the run with its name and row, never
// with a crash.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = parse.Corrupt(fmt.Errorf("corrupt Parquet data: %v", r))
	}
}

func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// Close implements parse.RecordSource.
func (s *Source) Close() error { return s.pf.Close() }

// UnmappedError says that no column of a Parquet log is named as any role
// keyrate reads (time, request, status...): the columns must be mapped
// to roles by name.
type UnmappedError struct{ Columns []string }

func (e *UnmappedError) Error() string {
	return fmt.Sprintf("no column is a known role (columns: %v)", e.Columns)
}
