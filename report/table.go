package report

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
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
// the declared sort order (the table definition's SortOrder), so the
// order the Parquet files declare is true (see WithKeyDisplay for when
// they declare none). It then only queues the copy: the table's own
// writer goroutine picks the row's partition and encodes it as CSV and
// Parquet, so the caller's work overlaps with encoding, and a set's
// tables encode in parallel. A Set must therefore end in Commit or Abort,
// which stop the goroutines.
type Table[T any] struct {
	set    *Set
	name   string
	layout *rowLayout
	pqOpts []parquet.WriterOption
	flat   bool // NAME.* even when the set is partitioned
	// declared says pqOpts declare the sort order: a file's footer drops
	// it if the set's escapedKeys is set by the time it closes.
	declared bool

	// Write's side, on the caller's goroutine. The output rules stay
	// here so that an out-of-order row fails the very Write that brings
	// it, and so that the key display, which memoises and is shared by
	// the set's tables, is used by one goroutine only.
	rows      int64
	cur, prev T
	started   bool
	// sorted says rows are checked against, and the files declare, the
	// sort order: raw keys, until one is written escaped.
	sorted    bool
	strs      []*string // string fields of cur
	key       *string   // key field of cur, or nil
	sortCur   []any     // *string or *time.Time fields of cur, in sort order
	sortPrev  []any     // the same fields of prev
	batch     []T       // rows not yet handed to the writer goroutine
	batchRows int
	queue     chan []T      // full batches, to the writer goroutine
	free      chan []T      // spent batches, back for reuse
	done      chan struct{} // closed when the writer goroutine returns
	failed    atomic.Bool   // err is set: Write stops taking rows

	// The writer's side: the writer goroutine's while it runs, the
	// caller's once wait or flush has returned.
	err     error               // the first error; the rows after it are dropped
	parts   map[string]*part[T] // by partition date; "" when not partitioned
	last    *part[T]            // memo: rows arrive grouped by key, often by date
	lastDay int64               // last's date as a unixDay
	dateOf  func(*T) *time.Time // the partition column, when partitioned
	// strOffsets are the offsets of the row's string fields.
	strOffsets []uintptr
}

// part is one output location of a table: the flat files, or one
// partition's files.
type part[T any] struct {
	date    string
	rows    int64
	csv     *csvTable[T]
	pq      *parquet.GenericWriter[T]
	pqOut   *parquetOut
	spool   *rowSpool[T] // rows for a Parquet file encoded at the commit
	batch   []T
	pqBytes int // row bytes in the Parquet row group being built
	closers []func() error
}

// rowGroupBytes bounds a Parquet row group by its rows' bytes (their
// structs and strings), besides rowGroupRows: parquet-go holds a row
// group in memory until it ends, and rows with 10 kB keys made a whole
// group of them hundreds of MiB, far past --memory. Rows of ordinary keys
// reach rowGroupRows first.
const rowGroupBytes = 16 << 20

// rowBatch is how many rows are buffered before a Parquet write call,
// and how many Write hands to the writer goroutine at once: enough to
// make the cost of a hand-off per row negligible.
const rowBatch = 1024

// queuedBatches is how many full batches may wait for a table's writer
// goroutine before Write blocks: enough to ride out a slow moment on
// either side, few enough that a failing disk stops the caller soon and
// that queued rows cost little memory.
const queuedBatches = 4

// TableOption configures one table.
type TableOption func(*tableOptions)

type tableOptions struct {
	batch int // rows per hand-off to the writer goroutine
}

// NewTable starts writing the table def defines in set's directory: flat
// when the set is not partitioned or def names no partition column.
func NewTable[T any](set *Set, def schema.TableOf[T], opts ...TableOption) (*Table[T], error) {
	to := tableOptions{batch: rowBatch}
	for _, o := range opts {
		o(&to)
	}
	name := def.Name
	layout, err := layoutOf(reflect.TypeFor[T](), def.SortOrder, def.PartitionBy)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	flat := layout.partition < 0 || set.opts.partition == NoPartition
	t := &Table[T]{set: set, name: name, layout: layout, parts: map[string]*part[T]{}, flat: flat, batchRows: to.batch}
	t.pqOpts = append(slices.Clone(set.parquetOptions), parquet.KeyValueMetadata(schema.MetaTable, name))
	if set.opts.keys.Hides() && !set.opts.keysShown {
		layout.sortBy, layout.sortNames = nil, nil
	}
	if sc := layout.sortingColumns(); len(sc) > 0 {
		t.pqOpts = append(t.pqOpts, parquet.SortingWriterConfig(parquet.SortingColumns(sc...)))
		t.declared, t.sorted = true, true
	}
	t.bindFields()
	for _, f := range layout.strings {
		t.strOffsets = append(t.strOffsets, reflect.TypeFor[T]().Field(f).Offset)
	}
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
	if f := t.layout.partition; f >= 0 {
		t.dateOf = func(row *T) *time.Time {
			return reflect.ValueOf(row).Elem().Field(f).Addr().Interface().(*time.Time)
		}
	}
	for _, f := range t.layout.sortBy {
		t.sortCur = append(t.sortCur, cur.Field(f).Addr().Interface())
		t.sortPrev = append(t.sortPrev, prev.Field(f).Addr().Interface())
	}
}

// Write appends one row. row is not modified or retained. Rows are
// written in the background, so an error writing them (a full disk)
// comes from a later Write, at its hand-off of a batch, or from Commit;
// from then on every Write returns it.
func (t *Table[T]) Write(row *T) error {
	if t.done == nil && t.err != nil {
		return t.err
	}
	t.cur = *row
	for _, s := range t.strs {
		if s == t.key && t.set.opts.keysShown {
			continue // displayed before it was stored
		}
		if s == t.key {
			shown := t.set.opts.keys.Show(*s)
			if t.sorted && shown != *s {
				// Rows in raw-key order need not be in the escaped
				// keys' order: from here on nothing is checked, and
				// nothing declared.
				t.sorted = false
				t.set.escapedKeys.Store(true)
			}
			*s = shown
		} else {
			*s = validUTF8(*s)
		}
	}
	if t.started && t.sorted && t.outOfOrder() {
		return fmt.Errorf("%s: rows out of the declared order (%v); this is a bug in keyrate, please report it",
			t.name, t.layout.sortNames)
	}
	t.started = true
	t.prev = t.cur
	t.rows++
	if t.batch == nil {
		t.batch = make([]T, 0, t.batchRows)
	}
	t.batch = append(t.batch, t.cur)
	if len(t.batch) < t.batchRows {
		return nil
	}
	return t.handOff()
}

// handOff queues the full batch for the writer goroutine, starting one
// if none runs, and takes an empty batch.
func (t *Table[T]) handOff() error {
	if t.failed.Load() {
		t.wait()
		return t.err
	}
	if t.done == nil {
		t.queue = make(chan []T, queuedBatches)
		// Room for every batch there can be (those queued, the
		// writer's and the caller's), so the writer never blocks on it.
		t.free = make(chan []T, queuedBatches+2)
		t.done = make(chan struct{})
		go t.run(t.queue, t.free, t.done)
	}
	t.queue <- t.batch
	select {
	case b := <-t.free:
		t.batch = b[:0]
	default:
		t.batch = make([]T, 0, t.batchRows)
	}
	return nil
}

// run is the writer goroutine. It gets its channels as arguments because
// wait drops the table's references to them.
func (t *Table[T]) run(queue <-chan []T, free chan<- []T, done chan<- struct{}) {
	defer close(done)
	for b := range queue {
		if t.err == nil {
			if t.err = t.writeRows(b); t.err != nil {
				t.failed.Store(true)
			}
		}
		free <- b
	}
}

// wait returns once the writer goroutine, if one runs, has written (or,
// after an error, dropped) every batch queued and returned. A later
// hand-off starts a new one.
func (t *Table[T]) wait() {
	if t.done == nil {
		return
	}
	close(t.queue)
	<-t.done
	t.queue, t.free, t.done = nil, nil, nil
}

// flush writes every row given to Write, the last partial batch on the
// caller's goroutine, and returns the table's error. The writer's side
// of the table is then the caller's to read.
func (t *Table[T]) flush() error {
	t.wait()
	if t.err == nil {
		t.err = t.writeRows(t.batch)
	}
	t.batch = t.batch[:0]
	return t.err
}

// writeRows writes each row to its partition's part.
func (t *Table[T]) writeRows(rows []T) error {
	for i := range rows {
		row := &rows[i]
		// Rows come grouped by key and mostly by day: the day number
		// (UTC days since 1970, as the partition dates are) finds the
		// last row's part without formatting a date for every row.
		var day int64
		if !t.flat {
			day = unixDay(*t.dateOf(row))
		}
		p := t.last
		if p == nil || day != t.lastDay {
			date := ""
			if !t.flat {
				date = t.dateOf(row).UTC().Format(time.DateOnly)
			}
			var err error
			if p, err = t.part(date); err != nil {
				return err
			}
			t.last, t.lastDay = p, day
		}
		if err := p.write(row, t.rowBytes(row)); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
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
	dir, base := "", t.name
	if date != "" {
		dir, base = t.name+"/"+partitionName(date), partFile
	}
	p := &part[T]{date: date}
	for _, f := range t.set.formats {
		rel := path.Join(dir, base+"."+string(f))
		if f == Parquet && date != "" && len(t.parts) >= t.set.opts.roomyParts {
			spools, err := t.set.spoolDir()
			if err != nil {
				return nil, err
			}
			sp, err := newRowSpool[T](t.set.fs, spools)
			if err != nil {
				return nil, err
			}
			p.spool = sp
			p.closers = append(p.closers, func() error { return t.encodeSpool(p, rel) })
			continue
		}
		pf, err := t.set.create(rel)
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
			t.startParquet(p, pf)
			p.closers = append(p.closers, p.flushParquet, func() error { return t.closeParquet(p) })
		}
	}
	t.parts[date] = p
	return p, nil
}

// encodeSpool writes p's spooled rows as the Parquet file rel, and
// removes the spool.
func (t *Table[T]) encodeSpool(p *part[T], rel string) error {
	sp := p.spool
	p.spool = nil
	defer sp.remove()
	pf, err := t.set.create(rel)
	if err != nil {
		return err
	}
	t.startParquet(p, pf)
	err = sp.replay(func(row *T) error { return p.writeParquet(row, t.rowBytes(row)) })
	if err == nil {
		err = p.flushParquet()
	}
	if cerr := t.closeParquet(p); err == nil {
		err = cerr
	}
	p.pq, p.pqOut, p.batch = nil, nil, nil // let the collector have its buffers before the next partition's
	return err
}

// startParquet starts p's Parquet file, writing into pf.
func (t *Table[T]) startParquet(p *part[T], pf *pendingFile) {
	p.pqOut = &parquetOut{w: pf}
	p.pq = parquet.NewGenericWriter[T](p.pqOut, t.pqOpts...)
}

// closeParquet completes p's Parquet file: a Close error means the footer
// is missing and the file unusable. A file that was to declare the sort
// order but belongs to a set that wrote a key escaped gets its footer
// rewritten without the declaration, byte for byte as if it had never
// had one. The rows go out first, so that only the page index and the
// footer are held in memory for that.
func (t *Table[T]) closeParquet(p *part[T]) error {
	if !t.declared || !t.set.escapedKeys.Load() {
		return p.pq.Close()
	}
	if err := p.pq.Flush(); err != nil {
		return err
	}
	p.pqOut.hold()
	if err := p.pq.Close(); err != nil {
		return err
	}
	return p.pqOut.writeUndeclared()
}

// write writes row, whose size is n bytes (see Table.rowBytes).
func (p *part[T]) write(row *T, n int) error {
	p.rows++
	if p.csv != nil {
		if err := p.csv.write(row); err != nil {
			return err
		}
	}
	switch {
	case p.pq != nil:
		return p.writeParquet(row, n)
	case p.spool != nil:
		return p.spool.add(row)
	}
	return nil
}

// writeParquet adds row, of n bytes, to the Parquet file.
func (p *part[T]) writeParquet(row *T, n int) error {
	p.batch = append(p.batch, *row)
	p.pqBytes += n
	if p.pqBytes >= rowGroupBytes {
		p.pqBytes = 0
		if err := p.flushParquet(); err != nil {
			return err
		}
		return p.pq.Flush() // ends the row group
	}
	if len(p.batch) == rowBatch {
		return p.flushParquet()
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

// rowBytes is row's size: its struct and the bytes of its strings.
func (t *Table[T]) rowBytes(row *T) int {
	n := int(unsafe.Sizeof(*row))
	for _, off := range t.strOffsets {
		n += len(*(*string)(unsafe.Add(unsafe.Pointer(row), off)))
	}
	return n
}

// discard closes and removes an aborted table's spools (its files are
// removed with the set's temporary files).
func (t *Table[T]) discard() {
	for _, p := range t.parts {
		if p.spool != nil {
			p.spool.remove()
			p.spool = nil
		}
	}
}

// identity is the table's name and whether it is written flat, as
// NAME.FORMAT files, rather than as a directory of partitions.
func (t *Table[T]) identity() (string, bool) { return t.name, t.flat }

// Rows reports how many rows Write took. They are counted as they come,
// so Rows needs no wait for the writer goroutine.
func (t *Table[T]) Rows() int64 { return t.rows }

// Name is the table's base name.
func (t *Table[T]) Name() string { return t.name }

// dates lists the partition dates the table has rows for. Like cover and
// finish, it reads the writer's side: call it after flush.
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

// finisher is what a Set does with its tables. flush comes first: the
// others read what the writer goroutine writes.
type finisher interface {
	identity() (name string, flat bool)
	discard()
	flush() error
	wait()
	finish() error
	dates() []string
	cover(dates []string) error
}
