package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// writeParquet writes what c yields as a partials file and closes c.
func writeParquet(t testing.TB, c Cursor, class string, meta map[string]string) []byte {
	t.Helper()
	defer c.Close()
	var buf bytes.Buffer
	if _, err := WriteParquet(&buf, c, class, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openParquet(t *testing.T, file []byte) (Cursor, string) {
	t.Helper()
	c, class, err := OpenParquet(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	return c, class
}

// TestParquetRoundTripProperty: random partials (any key bytes, times
// before 1970, counters past what a compact cell holds) written as a
// partials file read back as they were; equal partials, however split
// over States, give equal bytes; files merge like any partials.
func TestParquetRoundTripProperty(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 29))
		ref := randomPartial(rng, rng.IntN(3000))
		want := ref.series()
		states := split(rng, ref, 1+rng.IntN(4))
		class := []string{"", "methods=POST paths= exclude=", "a & b"}[rng.IntN(3)]
		meta := map[string]string{"keyrate.policy_digest": "abc", "keyrate.date": "2026-11-23"}
		file := writeParquet(t, NewMerge(cursors(t, states)...), class, meta)
		c, got := openParquet(t, file)
		if got != class {
			t.Fatalf("seed %d: class %q, want %q", seed, got, class)
		}
		equalSeries(t, drain(t, c), want)
		// Deterministic: the same partials from one State, another split.
		one := NewState()
		for _, s := range want {
			for i := range s.Points {
				one.AddCounters(s.Key, s.Points[i].TimeMillis, &s.Points[i].Counters)
			}
		}
		if again := writeParquet(t, open(t, one), class, meta); !bytes.Equal(again, file) {
			t.Fatalf("seed %d: equal partials gave different bytes (%d and %d)", seed, len(again), len(file))
		}
		// Two files merge as their partials do.
		half := split(rng, ref, 2)
		a := writeParquet(t, open(t, half[0]), class, nil)
		b := writeParquet(t, open(t, half[1]), class, nil)
		ca, _ := openParquet(t, a)
		cb, _ := openParquet(t, b)
		equalSeries(t, drain(t, NewMerge(ca, cb)), want)
	}
}

// TestParquetIsATable: a partials file is a table any Parquet reader
// reads: the documented columns and types, sorted and declared so,
// zstd-compressed, with statistics and the footer metadata.
func TestParquetIsATable(t *testing.T) {
	st := NewState()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range 300 {
		st.Add(fmt.Appendf(nil, "k%02d", i%7), &Observation{TimeMillis: day + int64(i)*1000, Status: 200, Bytes: 5})
	}
	file := writeParquet(t, open(t, st), "c", map[string]string{"keyrate.version": "test"})
	pf, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, f := range pf.Schema().Fields() {
		cols = append(cols, f.Name()+":"+f.Type().String())
	}
	want := "key:STRING time:TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) requests:INT(64,true) " +
		"status_2xx:INT(64,true) status_3xx:INT(64,true) status_4xx:INT(64,true) status_5xx:INT(64,true) " +
		"status_429:INT(64,true) rejected:INT(64,true) bytes_sent:INT(64,true) class:STRING"
	if got := strings.Join(cols, " "); got != want {
		t.Errorf("columns\n got %s\nwant %s", got, want)
	}
	for k, v := range map[string]string{MetaPartialsVersion: "1", MetaClass: "c", "keyrate.version": "test"} {
		if got, _ := pf.Lookup(k); got != v {
			t.Errorf("footer %s = %q, want %q", k, got, v)
		}
	}
	md := pf.Metadata()
	rg := md.RowGroups[0]
	if len(rg.SortingColumns) != 2 || rg.SortingColumns[0].ColumnIdx != 0 || rg.SortingColumns[1].ColumnIdx != 1 {
		t.Errorf("sorting columns %+v, want key, time", rg.SortingColumns)
	}
	for i, cc := range rg.Columns {
		m := cc.MetaData
		if m.Codec.String() != "ZSTD" || m.Statistics.MinValue == nil {
			t.Errorf("column %d: codec %v, statistics %+v", i, m.Codec, m.Statistics)
		}
		if (i == colKey || i == colClass) && m.DictionaryPageOffset == 0 {
			t.Errorf("column %d has no dictionary", i)
		}
	}
}

// TestParquetRowGroupsAreBounded: a large partials file is written and
// read a row group at a time.
func TestParquetRowGroupsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300k rows")
	}
	st := NewState()
	const n = 300_000
	for i := range n {
		st.Add(fmt.Appendf(nil, "k%04d", i%5000), &Observation{TimeMillis: int64(i), Status: 200})
	}
	file := writeParquet(t, open(t, st), "", nil)
	pf, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if len(pf.RowGroups()) < 3 {
		t.Errorf("%d row groups for %d rows", len(pf.RowGroups()), n)
	}
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() > partialsGroupRows {
			t.Errorf("a row group of %d rows", rg.NumRows())
		}
	}
	c, _ := openParquet(t, file)
	var points int
	var buf []Point
	for {
		_, pts, err := c.Next(buf[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		buf = pts
		points += len(pts)
	}
	if points != n {
		t.Errorf("read %d points, want %d", points, n)
	}
}

// foreignParquet is a Parquet file of rows of type T with the given
// footer metadata.
func foreignParquet[T any](t *testing.T, rows []T, meta map[string]string) []byte {
	t.Helper()
	var opts []parquet.WriterOption
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenParquetRefusesWhatIsNotPartials: another schema, another
// version, rows out of order, a row of another class, negative counts,
// a truncated file: each an error, never a wrong count.
func TestOpenParquetRefusesWhatIsNotPartials(t *testing.T) {
	ok := map[string]string{MetaPartialsVersion: "1", MetaClass: "c"}
	row := func(key string, ts int64) partialRow { return partialRow{Key: key, Time: ts, Requests: 1, Class: "c"} }
	type other struct {
		Key  string `parquet:"key"`
		Time int64  `parquet:"time"`
	}
	good := foreignParquet(t, []partialRow{row("a", 1), row("a", 2), row("b", 1)}, ok)
	for name, c := range map[string]struct {
		file []byte
		want error
	}{
		"another schema":     {foreignParquet(t, []other{{"a", 1}}, ok), ErrBadPartials},
		"no version":         {foreignParquet(t, []partialRow{row("a", 1)}, map[string]string{MetaClass: "c"}), ErrBadPartials},
		"a newer version":    {foreignParquet(t, []partialRow{row("a", 1)}, map[string]string{MetaPartialsVersion: "2", MetaClass: "c"}), ErrPartialsVersion},
		"keys out of order":  {foreignParquet(t, []partialRow{row("b", 1), row("a", 1)}, ok), ErrBadPartials},
		"a key twice apart":  {foreignParquet(t, []partialRow{row("a", 1), row("b", 1), row("a", 2)}, ok), ErrBadPartials},
		"times out of order": {foreignParquet(t, []partialRow{row("a", 2), row("a", 1)}, ok), ErrBadPartials},
		"a time twice":       {foreignParquet(t, []partialRow{row("a", 2), row("a", 2)}, ok), ErrBadPartials},
		"another class":      {foreignParquet(t, []partialRow{row("a", 1), {Key: "b", Class: "d"}}, ok), ErrBadPartials},
		"negative counts":    {foreignParquet(t, []partialRow{{Key: "a", Requests: -1, Class: "c"}}, ok), ErrBadPartials},
		"truncated":          {good[:len(good)-10], ErrBadPartials},
		"empty":              {nil, ErrBadPartials},
	} {
		_, err := readParquet(c.file)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if got, err := readParquet(good); err != nil || len(got) != 2 {
		t.Errorf("a valid hand-made file: %v, %v", got, err)
	}
}

// readParquet reads a whole partials file.
func readParquet(file []byte) ([]Series, error) {
	c, _, err := OpenParquet(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return nil, err
	}
	return readSeries(c)
}

// FuzzOpenParquet: whatever the bytes, the reader returns series or an
// error, never panics, and allocates in proportion to the input (a
// damaged length in a footer or page header must not ask for gigabytes).
// What it accepts it reads as a cursor must (readSeries checks).
func FuzzOpenParquet(f *testing.F) {
	st := NewState()
	for i := range 50 {
		st.Add(fmt.Appendf(nil, "k%d", i%5), &Observation{TimeMillis: int64(i) * 100, Status: 200 + i%3*100, Bytes: int64(i)})
	}
	c, _ := st.Open()
	file := writeParquet(f, c, "c", nil)
	f.Add(file)
	f.Add(file[:len(file)/2])
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := readParquet(data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20+uint64(len(data))*64 {
			t.Fatalf("%d bytes allocated reading %d bytes", alloc, len(data))
		}
		if err != nil && !errors.Is(err, ErrBadPartials) && !errors.Is(err, ErrPartialsVersion) {
			t.Fatalf("error %v is neither ErrBadPartials nor ErrPartialsVersion", err)
		}
	})
}

// A class without requests on a date is an empty file, still of its
// class: a dataset writes one file per class.
func TestParquetEmpty(t *testing.T) {
	file := writeParquet(t, open(t, NewState()), "x & y", nil)
	c, class := openParquet(t, file)
	if got := drain(t, c); len(got) != 0 || class != "x & y" {
		t.Errorf("empty file read back as %d series of class %q", len(got), class)
	}
}
