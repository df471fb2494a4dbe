package report

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"time"

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

// Table writes rows of type T to NAME.csv and/or NAME.parquet, or with
// day partitions to NAME/date=YYYY-MM-DD/part-0.{csv,parquet}. The row
// type's `parquet` struct tags are the schema of both formats. Nothing is
// visible under the final names until the whole Set commits.
//
// Write takes each row as the aggregate produced it and applies the
// Set's output rules on a private copy: the key column through the key
// display, every string made valid UTF-8, and a check that rows arrive in
// the declared sort order (SortOrder), so the order the Parquet files
// declare is true.
type Table[T any] struct {
	set    *Set
	name   string
	layout *rowLayout
	pqOpts []parquet.WriterOption
	rows   int64
	parts  map[string]*part[T] // by partition date; "" when not partitioned
	flat   bool                // NAME.* even when the set is partitioned
	last   *part[T]            // memo: rows arrive grouped by key, often by date

	cur, prev T
	started   bool
	strs      []*string // string fields of cur
	key       *string   // key field of cur, or nil
	date      *time.Time
	sortCur   []any // *string or *time.Time fields of cur, in sort order
	sortPrev  []any // the same fields of prev
}

// part is one output location of a table: the flat files, or one
// partition's files.
type part[T any] struct {
	date    string
	rows    int64
	csv     *csvTable[T]
	pq      *parquet.GenericWriter[T]
	batch   []T
	closers []func() error
}

// rowBatch is how many rows are buffered before a Parquet write call.
const rowBatch = 1024

// TableOption configures one table.
type TableOption func(*tableOptions)

type tableOptions struct{ flat bool }

// Unpartitioned writes the table as NAME.{csv,parquet} in the set's
// directory even when the set is partitioned: for run summaries that have
// no date of their own. Each run replaces the file.
func Unpartitioned() TableOption { return func(o *tableOptions) { o.flat = true } }

// NewTable starts writing table name in set's directory. With a
// partitioned set the row type needs one of PartitionColumns, unless the
// table is Unpartitioned.
func NewTable[T any](set *Set, name string, opts ...TableOption) (*Table[T], error) {
	var to tableOptions
	for _, o := range opts {
		o(&to)
	}
	layout, err := layoutOf(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	flat := to.flat || set.opts.partition == NoPartition
	if !flat && layout.partition < 0 {
		return nil, fmt.Errorf("table %s: no date column (%v) to partition by; use report.Unpartitioned()", name, PartitionColumns)
	}
	t := &Table[T]{set: set, name: name, layout: layout, parts: map[string]*part[T]{}, flat: flat}
	t.pqOpts = append(slices.Clone(set.parquetOptions), parquet.KeyValueMetadata(MetaTable, name))
	if set.opts.unsorted {
		layout.sortBy, layout.sortNames = nil, nil
	}
	if sc := layout.sortingColumns(); len(sc) > 0 {
		t.pqOpts = append(t.pqOpts, parquet.SortingWriterConfig(parquet.SortingColumns(sc...)))
	}
	t.bindFields()
	set.tables = append(set.tables, t)
	if flat {
		// The flat layout always has its files, even with no rows.
		if _, err := t.part(""); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// bindFields points the per-row helpers at cur's and prev's fields once,
// so that Write needs no reflection.
func (t *Table[T]) bindFields() {
	cur := reflect.ValueOf(&t.cur).Elem()
	prev := reflect.ValueOf(&t.prev).Elem()
	for _, f := range t.layout.strings {
		t.strs = append(t.strs, cur.Field(f).Addr().Interface().(*string))
	}
	if t.layout.key >= 0 {
		t.key = cur.Field(t.layout.key).Addr().Interface().(*string)
	}
	if t.layout.partition >= 0 {
		t.date = cur.Field(t.layout.partition).Addr().Interface().(*time.Time)
	}
	for _, f := range t.layout.sortBy {
		t.sortCur = append(t.sortCur, cur.Field(f).Addr().Interface())
		t.sortPrev = append(t.sortPrev, prev.Field(f).Addr().Interface())
	}
}

// Write appends one row. row is not modified or retained.
func (t *Table[T]) Write(row *T) error {
	t.cur = *row
	for _, s := range t.strs {
		if s == t.key {
			*s = t.set.opts.keys.Show(*s)
		} else {
			*s = validUTF8(*s)
		}
	}
	if t.started && t.outOfOrder() {
		return fmt.Errorf("%s: rows out of the declared order (%v); this is a bug in keyrate, please report it",
			t.name, t.layout.sortNames)
	}
	t.started = true
	date := ""
	if !t.flat {
		date = t.date.UTC().Format(time.DateOnly)
	}
	p := t.last
	if p == nil || p.date != date {
		var err error
		if p, err = t.part(date); err != nil {
			return err
		}
		t.last = p
	}
	t.rows++
	if err := p.write(&t.cur); err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	t.prev = t.cur
	return nil
}

// outOfOrder reports whether cur sorts before prev.
func (t *Table[T]) outOfOrder() bool {
	for i, c := range t.sortCur {
		var cmp int
		switch c := c.(type) {
		case *string:
			p := *t.sortPrev[i].(*string)
			switch {
			case *c < p:
				cmp = -1
			case *c > p:
				cmp = 1
			}
		case *time.Time:
			cmp = c.Compare(*t.sortPrev[i].(*time.Time))
		}
		if cmp != 0 {
			return cmp < 0
		}
	}
	return false
}

// part returns the output for date ("" when not partitioned), creating
// its files on first use.
func (t *Table[T]) part(date string) (*part[T], error) {
	if p, ok := t.parts[date]; ok {
		return p, nil
	}
	dir, base := t.set.dir, t.name
	if date != "" {
		var err error
		if dir, err = t.set.partitionDir(t.name, date); err != nil {
			return nil, err
		}
		base = "part-0"
	}
	p := &part[T]{date: date}
	for _, f := range t.set.formats {
		pf, err := t.set.create(filepath.Join(dir, base+"."+string(f)))
		if err != nil {
			return nil, err
		}
		switch f {
		case CSV:
			if p.csv, err = newCSVTable[T](pf, t.set.opts.csvRaw); err != nil {
				return nil, err
			}
			p.closers = append(p.closers, p.csv.close)
		case Parquet:
			p.pq = parquet.NewGenericWriter[T](pf, t.pqOpts...)
			p.closers = append(p.closers, p.flushParquet, p.pq.Close)
		}
	}
	t.parts[date] = p
	return p, nil
}

func (p *part[T]) write(row *T) error {
	p.rows++
	if p.csv != nil {
		if err := p.csv.write(row); err != nil {
			return err
		}
	}
	if p.pq != nil {
		p.batch = append(p.batch, *row)
		if len(p.batch) == rowBatch {
			return p.flushParquet()
		}
	}
	return nil
}

func (p *part[T]) flushParquet() error {
	if len(p.batch) == 0 {
		return nil
	}
	_, err := p.pq.Write(p.batch)
	clear(p.batch) // drop string references for the collector
	p.batch = p.batch[:0]
	return err
}

// Rows reports how many rows were written.
func (t *Table[T]) Rows() int64 { return t.rows }

// Name is the table's base name.
func (t *Table[T]) Name() string { return t.name }

// dates lists the partition dates the table has rows for.
func (t *Table[T]) dates() []string {
	if t.flat {
		return nil
	}
	var ds []string
	for d := range t.parts {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// cover makes sure the table has a partition for each of dates, empty if
// it has no rows there, so that re-running a night replaces stale rows.
func (t *Table[T]) cover(dates []string) error {
	if t.flat {
		return nil
	}
	for _, d := range dates {
		if _, err := t.part(d); err != nil {
			return err
		}
	}
	return nil
}

// finish completes the encoders, in date order so that errors are
// deterministic; a Parquet Close error means the footer is missing and
// the file unusable, so it fails the run.
func (t *Table[T]) finish() error {
	dates := t.dates()
	if t.flat {
		dates = []string{""}
	}
	for _, d := range dates {
		p := t.parts[d]
		for _, c := range p.closers {
			if err := c(); err != nil {
				if d != "" {
					return fmt.Errorf("%s date=%s: %w", t.name, d, err)
				}
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
	}
	return nil
}

type finisher interface {
	finish() error
	dates() []string
	cover(dates []string) error
}
