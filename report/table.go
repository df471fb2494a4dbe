package report

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// Format is an output file format.
type Format string

const (
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// ParseFormats reads an --output list such as "csv,parquet".
func ParseFormats(list []string) ([]Format, error) {
	var out []Format
	for _, s := range list {
		f := Format(s)
		if f != CSV && f != Parquet {
			return nil, fmt.Errorf("unknown output format %q (want csv or parquet)", s)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no output format given")
	}
	return out, nil
}

// Table writes rows of type T to NAME.csv and/or NAME.parquet. The row
// type's `parquet` struct tags are the schema of both. Nothing is visible
// under the final names until the whole Set commits.
type Table[T any] struct {
	name    string
	rows    int64
	csv     *csvTable[T]
	pq      *parquet.GenericWriter[T]
	batch   []T
	files   []*pendingFile
	closers []func() error
}

// rowBatch is how many rows are buffered before a Parquet write call.
const rowBatch = 1024

// NewTable starts writing table name in set's directory.
func NewTable[T any](set *Set, name string) (*Table[T], error) {
	t := &Table[T]{name: name}
	for _, f := range set.formats {
		pf, err := createPending(set.fs, filepath.Join(set.dir, name+"."+string(f)))
		if err != nil {
			return nil, err
		}
		t.files = append(t.files, pf)
		set.pending = append(set.pending, pf)
		switch f {
		case CSV:
			if t.csv, err = newCSVTable[T](pf); err != nil {
				return nil, err
			}
			t.closers = append(t.closers, t.csv.close)
		case Parquet:
			t.pq = parquet.NewGenericWriter[T](pf, set.parquetOptions...)
			t.closers = append(t.closers, t.flushParquet, t.pq.Close)
		}
	}
	set.tables = append(set.tables, t)
	return t, nil
}

// Write appends one row.
func (t *Table[T]) Write(row *T) error {
	t.rows++
	if t.csv != nil {
		if err := t.csv.write(row); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if t.pq != nil {
		t.batch = append(t.batch, *row)
		if len(t.batch) == rowBatch {
			return t.flushParquet()
		}
	}
	return nil
}

func (t *Table[T]) flushParquet() error {
	if len(t.batch) == 0 {
		return nil
	}
	_, err := t.pq.Write(t.batch)
	clear(t.batch) // drop string references for the collector
	t.batch = t.batch[:0]
	if err != nil {
		return fmt.Errorf("%s.parquet: %w", t.name, err)
	}
	return nil
}

// Rows reports how many rows were written.
func (t *Table[T]) Rows() int64 { return t.rows }

// Name is the table's base name.
func (t *Table[T]) Name() string { return t.name }

// finish completes the encoders; a Parquet Close error means the footer
// is missing and the file unusable, so it fails the run.
func (t *Table[T]) finish() error {
	for _, c := range t.closers {
		if err := c(); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

type finisher interface{ finish() error }
