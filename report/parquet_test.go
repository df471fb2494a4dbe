package report

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/schema"

	kschema "github.com/keyrate/keyrate/report/schema"
)

// TestParquetReadsBackWithArrow proves, with an independent reader, the
// logical types warehouses rely on: strings are UTF-8 and dictionary
// encoded, times are TIMESTAMP(MILLIS, adjusted to UTC), counts INT64,
// and the file is zstd compressed.
func TestParquetReadsBackWithArrow(t *testing.T) {
	dir := t.TempDir()
	writeTable(t, dir, "things", []Format{Parquet}, sampleRows, rowsManifest("things", len(sampleRows)))
	path := filepath.Join(dir, "things.parquet")
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()

	sc := rdr.MetaData().Schema
	if sc.NumColumns() != 3 {
		t.Fatalf("%d columns, want 3 (the '-' field is not written)", sc.NumColumns())
	}
	key := sc.Column(0)
	if key.Name() != "key" || key.PhysicalType() != parquet.Types.ByteArray || !key.LogicalType().Equals(schema.StringLogicalType{}) {
		t.Errorf("key column: %s %s %s", key.Name(), key.PhysicalType(), key.LogicalType())
	}
	at := sc.Column(1)
	ts, ok := at.LogicalType().(*schema.TimestampLogicalType)
	if at.Name() != "at" || at.PhysicalType() != parquet.Types.Int64 || !ok || !ts.IsAdjustedToUTC() || ts.TimeUnit() != schema.TimeUnitMillis {
		t.Errorf("at column: %s %s %s", at.Name(), at.PhysicalType(), at.LogicalType())
	}
	count := sc.Column(2)
	if count.Name() != "count" || count.PhysicalType() != parquet.Types.Int64 {
		t.Errorf("count column: %s %s", count.Name(), count.PhysicalType())
	}
	rg := rdr.MetaData().RowGroup(0)
	keyChunk, err := rg.ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if keyChunk.Compression().String() != "ZSTD" {
		t.Errorf("key column compression %s, want ZSTD", keyChunk.Compression())
	}
	if !keyChunk.HasDictionaryPage() {
		t.Error("key column has no dictionary page")
	}

	// Values round-trip through Arrow.
	tbl := readArrow(t, path)
	if tbl.NumRows() != int64(len(sampleRows)) {
		t.Fatalf("%d rows, want %d", tbl.NumRows(), len(sampleRows))
	}
	tsType, ok := tbl.Schema().Field(1).Type.(*arrow.TimestampType)
	if !ok || tsType.Unit != arrow.Millisecond || tsType.TimeZone != "UTC" {
		t.Errorf("arrow type of at: %s", tbl.Schema().Field(1).Type)
	}
	keys := tbl.Column(0).Data().Chunk(0).(*array.String)
	ats := tbl.Column(1).Data().Chunk(0).(*array.Timestamp)
	counts := tbl.Column(2).Data().Chunk(0).(*array.Int64)
	for i, want := range sampleRows {
		if keys.Value(i) != want.Key || int64(ats.Value(i)) != want.At.UnixMilli() || counts.Value(i) != want.Count {
			t.Errorf("row %d = (%q, %d, %d), want (%q, %d, %d)", i,
				keys.Value(i), ats.Value(i), counts.Value(i), want.Key, want.At.UnixMilli(), want.Count)
		}
	}
}

// TestRowGroupsBoundedByBytes: rows with long keys end a row group once it
// holds rowGroupBytes, long before rowGroupRows: parquet-go keeps a row
// group in memory until it ends, and 10 kB keys made one hundreds of MiB.
// Every row still reads back, in order.
func TestRowGroupsBoundedByBytes(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("k", 100_000)
	rows := make([]keyRow, 400) // 40 MB of keys: three row groups or more
	for i := range rows {
		rows[i] = keyRow{Key: fmt.Sprintf("%04d%s", i, long), Requests: int64(i)}
	}
	writeTable(t, dir, "keys", []Format{Parquet}, rows, nil)
	rdr, err := file.OpenParquetFile(filepath.Join(dir, "keys.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if n := rdr.NumRowGroups(); n < 3 {
		t.Errorf("%d row groups for 40 MB of rows, want at least 3 (rowGroupBytes %d)", n, rowGroupBytes)
	}
	for g := range rdr.NumRowGroups() {
		if b := rdr.MetaData().RowGroup(g).TotalByteSize(); b > 2*rowGroupBytes {
			t.Errorf("row group %d holds %d bytes", g, b)
		}
	}
	if n := rdr.NumRows(); n != int64(len(rows)) {
		t.Errorf("%d rows read back, want %d", n, len(rows))
	}
}

// TestPerKeyTablesPlainEncodeTheirKeys: the keys table holds one row per
// key, so its key column is written plain (a dictionary would only copy
// every key and cost a map insert per row), while its low-cardinality
// string columns keep their dictionary. Read with Arrow, the independent
// reader.
func TestPerKeyTablesPlainEncodeTheirKeys(t *testing.T) {
	dir := t.TempDir()
	rows := make([]kschema.KeyRow, 300)
	for i := range rows {
		rows[i] = kschema.KeyRow{Key: fmt.Sprintf("k%04d", i), Plan: "cli", Requests: 1,
			FirstSeen: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), LastSeen: time.Date(2026, 11, 23, 0, 0, 1, 0, time.UTC)}
	}
	set, err := NewSet(dir, []Format{Parquet})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(set, kschema.Keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := tab.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Commit(context.Background(), rowsManifest(kschema.Keys.Name, len(rows))); err != nil {
		t.Fatal(err)
	}
	rdr, err := file.OpenParquetFile(filepath.Join(dir, kschema.Keys.Name+".parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	sc := rdr.MetaData().Schema
	rg := rdr.MetaData().RowGroup(0)
	for _, c := range []struct {
		name string
		dict bool
	}{{"key", false}, {"plan", true}} {
		i := sc.ColumnIndexByName(c.name)
		if i < 0 {
			t.Fatalf("no %s column", c.name)
		}
		chunk, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if chunk.HasDictionaryPage() != c.dict || slices.Contains(chunk.Encodings(), parquet.Encodings.RLEDict) != c.dict {
			t.Errorf("%s column: dictionary page %v, encodings %v; want a dictionary: %v", c.name, chunk.HasDictionaryPage(), chunk.Encodings(), c.dict)
		}
	}
	if got := readArrow(t, filepath.Join(dir, kschema.Keys.Name+".parquet")).NumRows(); got != int64(len(rows)) {
		t.Errorf("%d rows read back, want %d", got, len(rows))
	}
}
