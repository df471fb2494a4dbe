package aggregate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/keyrate/keyrate/internal/pqzstd"
	"github.com/parquet-go/parquet-go"
)

// The partial aggregate's Parquet encoding: how a dataset keeps a date's
// partials (one file per request class), and a table any engine reads.
// docs/partials.md documents it beside the run; in short, one row per
// (key, timestamp), sorted by key then time:
//
//	key         string (dictionary), the shown key
//	time        TIMESTAMP(MILLIS, UTC)
//	requests, status_2xx, status_3xx, status_4xx, status_5xx,
//	status_429, rejected, bytes_sent    INT64
//	class       string (dictionary), the same in every row
//
// with footer metadata keyrate.partials_version and keyrate.class.

// PartialsVersion is the version of the Parquet encoding of partials
// that WriteParquet writes and OpenParquet reads. Any change to the
// columns, their types or meaning, or their order, is a new version; a
// reader refuses versions it does not know (ErrPartialsVersion).
const PartialsVersion = 1

// Footer metadata of a partials file.
const (
	MetaPartialsVersion = "keyrate.partials_version"
	MetaClass           = "keyrate.class"
)

// ErrBadPartials reports a Parquet file that is not a valid partials
// file: another schema, rows out of order, negative counts, damage.
var ErrBadPartials = errors.New("not a valid keyrate partials file")

// ErrPartialsVersion reports a partials file of a version this reader
// does not know: it is not read at all, rather than misread.
var ErrPartialsVersion = errors.New("unsupported keyrate partials version")

// partialRow is one row of a partials file.
type partialRow struct {
	Key       string `parquet:"key,dict"`
	Time      int64  `parquet:"time,timestamp(millisecond:utc)"`
	Requests  int64  `parquet:"requests"`
	Status2xx int64  `parquet:"status_2xx"`
	Status3xx int64  `parquet:"status_3xx"`
	Status4xx int64  `parquet:"status_4xx"`
	Status5xx int64  `parquet:"status_5xx"`
	Status429 int64  `parquet:"status_429"`
	Rejected  int64  `parquet:"rejected"`
	BytesSent int64  `parquet:"bytes_sent"`
	Class     string `parquet:"class,dict"`
}

// partialsSchema is the schema every partials file has, column for
// column.
//
// It is built on first use: the reflection costs every process start
// ~0.1 ms, and most runs (and `keyrate --version`) never spill.
var partialsSchema = sync.OnceValue(func() *parquet.Schema { return parquet.SchemaOf(partialRow{}) })

// Column indexes: key, then time and the counters (cols[.] in the
// reader), then class.
const (
	colKey   = 0
	colClass = 10
	nCols    = 11
)

// Row groups are bounded by rows (DuckDB's own row group size, as
// report's tables) and by the bytes they hold before encoding, so that a
// writer's buffers stay small whatever the keys' lengths.
const (
	partialsGroupRows  = 122_880
	partialsGroupBytes = 16 << 20
	partialsBatch      = 1024 // rows handed to the Parquet writer at once
)

// partialsZstd compresses every partials file's pages: shared, so that
// its pooled encoders are reused from file to file.
var partialsZstd pqzstd.Codec

// WriteParquet writes the series c yields to w as a partials file of
// request class class (its canonical name), streaming: it holds one row
// group at a time. meta adds footer metadata (the dataset's version,
// policy digest, key display...). Equal inputs give equal bytes. It does
// not close c; w receives the whole file only if the error is nil.
func WriteParquet(w io.Writer, c Cursor, class string, meta map[string]string) (Stats, error) {
	var st Stats
	opts := []parquet.WriterOption{
		partialsSchema(),
		parquet.Compression(&partialsZstd),
		parquet.CreatedBy("keyrate", "", ""),
		parquet.MaxRowsPerRowGroup(partialsGroupRows),
		parquet.DictionaryMaxBytes(pqzstd.Window),
		parquet.DataPageStatistics(true),
		parquet.DataPageVersion(1), // readable by every engine
		parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending("key"), parquet.Ascending("time"))),
	}
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	// Set last: the caller's meta cannot disguise the file.
	opts = append(opts, parquet.KeyValueMetadata(MetaPartialsVersion, strconv.Itoa(PartialsVersion)),
		parquet.KeyValueMetadata(MetaClass, class))
	pw := parquet.NewGenericWriter[partialRow](w, opts...)
	batch := make([]partialRow, 0, partialsBatch)
	var groupBytes int
	flush := func() error {
		if _, err := pw.Write(batch); err != nil {
			return err
		}
		batch = batch[:0]
		if groupBytes >= partialsGroupBytes {
			groupBytes = 0
			return pw.Flush()
		}
		return nil
	}
	var points []Point
	var last string
	for {
		key, pts, err := c.Next(points[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
		points = pts
		if st.Keys > 0 && key <= last {
			return st, fmt.Errorf("aggregate: writing partials: keys out of order")
		}
		last = key
		st.Keys++
		st.Points += int64(len(points))
		for i := range points {
			p := &points[i]
			batch = append(batch, partialRow{Key: key, Time: p.TimeMillis, Requests: p.Requests,
				Status2xx: p.Status2xx, Status3xx: p.Status3xx, Status4xx: p.Status4xx, Status5xx: p.Status5xx,
				Status429: p.Status429, Rejected: p.Rejected, BytesSent: p.BytesSent, Class: class})
			groupBytes += len(key) + len(class) + 9*8
			if len(batch) == cap(batch) || groupBytes >= partialsGroupBytes {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
	}
	if len(batch) > 0 {
		if _, err := pw.Write(batch); err != nil {
			return st, err
		}
	}
	return st, pw.Close()
}

// OpenParquet opens a partials file of size bytes for reading as a
// Cursor, and returns its class's name. It reads the footer now and the
// rows as the cursor is read, one row group's pages at a time; every row
// is checked (order, class, counts), so a damaged or foreign file is an
// error (ErrBadPartials, ErrPartialsVersion), never a wrong count. The
// cursor does not close f.
func OpenParquet(f io.ReaderAt, size int64) (_ Cursor, class string, err error) {
	defer recoverBadPartials(&err)
	if err := checkFooter(f, size); err != nil {
		return nil, "", err
	}
	pf, err := parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadPartials, err)
	}
	version, ok := pf.Lookup(MetaPartialsVersion)
	if !ok {
		return nil, "", fmt.Errorf("%w: no %s in its footer", ErrBadPartials, MetaPartialsVersion)
	}
	if version != strconv.Itoa(PartialsVersion) {
		return nil, "", fmt.Errorf("%w %q (this keyrate reads version %d)", ErrPartialsVersion, version, PartialsVersion)
	}
	if class, ok = pf.Lookup(MetaClass); !ok {
		return nil, "", fmt.Errorf("%w: no %s in its footer", ErrBadPartials, MetaClass)
	}
	if !parquet.EqualNodes(pf.Schema(), partialsSchema()) {
		return nil, "", fmt.Errorf("%w: columns %v", ErrBadPartials, pf.Schema().Columns())
	}
	var rows int64
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() < 0 {
			return nil, "", fmt.Errorf("%w: a row group of %d rows", ErrBadPartials, rg.NumRows())
		}
		rows += rg.NumRows()
	}
	if rows != pf.NumRows() {
		return nil, "", fmt.Errorf("%w: row groups of %d rows, footer says %d", ErrBadPartials, rows, pf.NumRows())
	}
	if err := checkPages(f, size, pf.Metadata()); err != nil {
		return nil, "", err
	}
	return &parquetCursor{groups: pf.RowGroups(), class: class}, class, nil
}

// maxPartialsFooter bounds a partials file's footer: a row group's
// metadata is a few kilobytes, a date's file has a few row groups.
const maxPartialsFooter = 16 << 20

// checkFooter checks the frame of a Parquet file, "PAR1" at both ends
// and a footer length that fits, before parquet-go allocates the footer
// by its stated length.
func checkFooter(f io.ReaderAt, size int64) error {
	const frame = 4 + 4 + 4 // magic, footer length, magic
	if size < frame {
		return fmt.Errorf("%w: %d bytes", ErrBadPartials, size)
	}
	var head, tail [4]byte
	var footer [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPartials, err)
	}
	if _, err := f.ReadAt(footer[:], size-8); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPartials, err)
	}
	copy(tail[:], footer[4:])
	if string(head[:]) != "PAR1" || string(tail[:]) != "PAR1" {
		return fmt.Errorf("%w: not a Parquet file", ErrBadPartials)
	}
	n := int64(binary.LittleEndian.Uint32(footer[:4]))
	if n > size-frame || n > maxPartialsFooter {
		return fmt.Errorf("%w: a footer of %d bytes in a file of %d", ErrBadPartials, n, size)
	}
	return nil
}

// maxPartialsPage bounds a page of a partials file: the writer's pages
// are far smaller (a row group is partialsGroupBytes).
const maxPartialsPage = partialsGroupBytes

// checkPages reads every page header of every column chunk before the
// cursor reads a page: parquet-go allocates a page by the sizes its
// header states, so a damaged header in a few kilobytes could ask for
// gigabytes. Each page must fit in its chunk, and each chunk in the file.
func checkPages(f io.ReaderAt, size int64, md *format.FileMetaData) error {
	var header format.PageHeader
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			m := &cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset != 0 {
				start = m.DictionaryPageOffset
			}
			if start < 4 || m.TotalCompressedSize < 0 || start > size-m.TotalCompressedSize {
				return fmt.Errorf("%w: a column chunk of %d bytes at %d in a file of %d", ErrBadPartials, m.TotalCompressedSize, start, size)
			}
			section := io.NewSectionReader(f, start, m.TotalCompressedSize)
			for pos := int64(0); pos < m.TotalCompressedSize; {
				if _, err := section.Seek(pos, io.SeekStart); err != nil {
					return fmt.Errorf("%w: %v", ErrBadPartials, err)
				}
				rbuf := bufio.NewReaderSize(section, 256)
				header = format.PageHeader{}
				if err := thrift.NewDecoder((&thrift.CompactProtocol{}).NewReader(rbuf)).Decode(&header); err != nil {
					return fmt.Errorf("%w: a page header: %v", ErrBadPartials, err)
				}
				end, _ := section.Seek(0, io.SeekCurrent)
				pos = end - int64(rbuf.Buffered())
				if header.CompressedPageSize < 0 || int64(header.CompressedPageSize) > m.TotalCompressedSize-pos ||
					header.UncompressedPageSize < 0 || header.UncompressedPageSize > maxPartialsPage {
					return fmt.Errorf("%w: a page of %d bytes (%d uncompressed) in a column chunk of %d", ErrBadPartials,
						header.CompressedPageSize, header.UncompressedPageSize, m.TotalCompressedSize)
				}
				pos += int64(header.CompressedPageSize)
			}
		}
	}
	return nil
}

// recoverBadPartials turns a panic of the Parquet decoder on a damaged
// file (parquet-go trusts some lengths it reads) into ErrBadPartials.
func recoverBadPartials(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrBadPartials, r)
	}
}

// maxPartialsKey bounds a key read from a partials file, as a run's.
const maxPartialsKey = MaxKeyBytes

// A reader holds one row group decoded; these bound what a foreign or
// damaged file can make it hold (WriteParquet stays far below).
const (
	maxGroupRows     = 1 << 20
	maxGroupKeyBytes = 64 << 20
)

// parquetCursor reads a partials file's rows back as series, one row
// group at a time: each group's columns are decoded whole into typed
// slices (a row group holds at most 122,880 rows as WriteParquet writes
// them), which is several times faster than assembling rows value by
// value.
type parquetCursor struct {
	groups []parquet.RowGroup
	class  string
	// The current row group, decoded: row r is key keys[keyOf[r]]
	// (keyArena[keyEnd[k-1]:keyEnd[k]]), time and counters cols[.][r].
	keyArena []byte
	keyEnd   []int
	keyOf    []int32
	cols     [nCols - 2][]int64
	n, i     int // rows in the group, the next to read
	values   []parquet.Value
	last     string // the last key returned
	keys     int64
	err      error
	done     bool
}

// groupKey returns key k of the current row group.
func (c *parquetCursor) groupKey(k int32) []byte {
	start := 0
	if k > 0 {
		start = c.keyEnd[k-1]
	}
	return c.keyArena[start:c.keyEnd[k]]
}

// load decodes the next row group; io.EOF after the last.
func (c *parquetCursor) load() (err error) {
	defer recoverBadPartials(&err)
	for c.i == c.n {
		if len(c.groups) == 0 {
			return io.EOF
		}
		rg := c.groups[0]
		c.groups = c.groups[1:]
		rows := rg.NumRows()
		if rows > maxGroupRows {
			return fmt.Errorf("%w: a row group of %d rows", ErrBadPartials, rows)
		}
		chunks := rg.ColumnChunks()
		if len(chunks) != nCols {
			return fmt.Errorf("%w: a row group of %d columns", ErrBadPartials, len(chunks))
		}
		c.n, c.i = int(rows), 0
		c.keyArena, c.keyEnd, c.keyOf = c.keyArena[:0], c.keyEnd[:0], c.keyOf[:0]
		for col, cc := range chunks {
			if err := c.readColumn(col, cc); err != nil {
				return err
			}
		}
	}
	return nil
}

// readColumn decodes column col of the current row group.
func (c *parquetCursor) readColumn(col int, cc parquet.ColumnChunk) error {
	pages := cc.Pages()
	defer pages.Close()
	if col != colKey && col != colClass {
		c.cols[col-1] = c.cols[col-1][:0]
	}
	got := 0
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadPartials, err)
		}
		err = c.readPage(col, p, &got)
		parquet.Release(p)
		if err != nil {
			return err
		}
	}
	if got != c.n {
		return fmt.Errorf("%w: a column of %d values in a row group of %d rows", ErrBadPartials, got, c.n)
	}
	return nil
}

// readPage decodes page p of column col, whose first value is row *got.
// An integer column grows page by page, with values decoded, rather than
// to the row count the footer claims: allocation follows the data.
func (c *parquetCursor) readPage(col int, p parquet.Page, got *int) error {
	if p.NumNulls() != 0 || p.NumValues() < 0 || *got+int(p.NumValues()) > c.n {
		return fmt.Errorf("%w: a page of %d values, %d null, at row %d of %d", ErrBadPartials, p.NumValues(), p.NumNulls(), *got, c.n)
	}
	end := *got + int(p.NumValues())
	var ints []int64
	if col != colKey && col != colClass {
		ints = slices.Grow(c.cols[col-1], end-*got)[:end]
		c.cols[col-1] = ints
	}
	vr := p.Values()
	if r, ok := vr.(parquet.Int64Reader); ok && ints != nil {
		for *got < end {
			n, err := r.ReadInt64s(ints[*got:end])
			*got += n
			if err == io.EOF || n == 0 {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: %v", ErrBadPartials, err)
			}
		}
	} else {
		if c.values == nil {
			c.values = make([]parquet.Value, 1024)
		}
		for *got < end {
			n, err := vr.ReadValues(c.values[:min(len(c.values), end-*got)])
			for _, v := range c.values[:n] {
				if err := c.value(col, v, ints, *got); err != nil {
					return err
				}
				*got++
			}
			if err == io.EOF || n == 0 {
				break
			}
			if err != nil {
				return fmt.Errorf("%w: %v", ErrBadPartials, err)
			}
		}
	}
	if *got != end {
		return fmt.Errorf("%w: a page of %d values holds %d", ErrBadPartials, p.NumValues(), *got-end+int(p.NumValues()))
	}
	return nil
}

// value takes value v of column col at row r.
func (c *parquetCursor) value(col int, v parquet.Value, ints []int64, r int) error {
	if v.IsNull() {
		return fmt.Errorf("%w: a null value", ErrBadPartials)
	}
	switch col {
	case colClass:
		if string(v.ByteArray()) != c.class {
			return fmt.Errorf("%w: a row of another class than the footer's", ErrBadPartials)
		}
	case colKey:
		k := v.ByteArray()
		if len(k) > maxPartialsKey {
			return fmt.Errorf("%w: a key of %d bytes", ErrBadPartials, len(k))
		}
		if n := len(c.keyEnd); n == 0 || string(c.groupKey(int32(n-1))) != string(k) {
			if len(c.keyArena)+len(k) > maxGroupKeyBytes {
				return fmt.Errorf("%w: a row group of more than %d bytes of keys", ErrBadPartials, maxGroupKeyBytes)
			}
			c.keyArena = append(c.keyArena, k...)
			c.keyEnd = append(c.keyEnd, len(c.keyArena))
		}
		c.keyOf = append(c.keyOf, int32(len(c.keyEnd)-1))
	default:
		ints[r] = v.Int64()
	}
	return nil
}

// Next implements Cursor.
func (c *parquetCursor) Next(dst []Point) (string, []Point, error) {
	if c.err != nil {
		return "", dst, c.err
	}
	if c.done {
		return "", dst, io.EOF
	}
	key, dst, err := c.next(dst)
	if err == io.EOF {
		c.done = true
	} else if err != nil {
		c.err = err
	}
	return key, dst, err
}

// next reads the next key's rows, which may continue into the next row
// groups.
func (c *parquetCursor) next(dst []Point) (string, []Point, error) {
	if err := c.load(); err != nil {
		return "", dst, err
	}
	kb := c.groupKey(c.keyOf[c.i])
	if c.keys > 0 && string(kb) <= c.last {
		return "", dst, fmt.Errorf("%w: keys out of order", ErrBadPartials)
	}
	key := string(kb)
	start := len(dst)
	for {
		k := c.keyOf[c.i]
		for ; c.i < c.n && c.keyOf[c.i] == k; c.i++ {
			p := Point{TimeMillis: c.cols[0][c.i], Counters: Counters{
				Requests: c.cols[1][c.i], Status2xx: c.cols[2][c.i], Status3xx: c.cols[3][c.i],
				Status4xx: c.cols[4][c.i], Status5xx: c.cols[5][c.i], Status429: c.cols[6][c.i],
				Rejected: c.cols[7][c.i], BytesSent: c.cols[8][c.i],
			}}
			if p.negative() {
				return "", dst[:start], fmt.Errorf("%w: negative counts", ErrBadPartials)
			}
			if n := len(dst); n > start && p.TimeMillis <= dst[n-1].TimeMillis {
				return "", dst[:start], fmt.Errorf("%w: times out of order", ErrBadPartials)
			}
			dst = append(dst, p)
		}
		if c.i < c.n {
			break // the next key starts in this group
		}
		// The key may go on in the next row group.
		if err := c.load(); err == io.EOF {
			break
		} else if err != nil {
			return "", dst[:start], err
		}
		if string(c.groupKey(c.keyOf[c.i])) != key {
			break
		}
	}
	c.last = key
	c.keys++
	return key, dst, nil
}

// Close implements Cursor: it drops the decoded row group (not the
// file).
func (c *parquetCursor) Close() {
	c.groups = nil
	c.keyArena, c.keyEnd, c.keyOf, c.cols = nil, nil, nil, [nCols - 2][]int64{}
	c.n, c.i = 0, 0
	c.done = true
}
