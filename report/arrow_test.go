package report

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	pq "github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	pqschema "github.com/apache/arrow/go/v15/parquet/schema"
	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
)

// TestParquetReadByArrow reads a written table back with Apache Arrow,
// an implementation independent of the writer: logical types, row
// groups, statistics, dictionary pages, compression, metadata, values.
func TestParquetReadByArrow(t *testing.T) {
	dir := t.TempDir()
	// Enough rows for three row groups; 40 keys so the key column has a
	// small dictionary.
	rows := genWindows(2*rowGroupRows+4000, 40, day0, 1)
	writeTable(t, dir, "windows", []Format{Parquet}, rows, nil, WithVersion("v9.9.9"), WithPolicyDigest("sha256:abc"))
	path := filepath.Join(dir, "windows.parquet")
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	md := rdr.MetaData()

	// Footer metadata.
	want := map[string]string{
		schema.MetaSchemaVersion: schema.Version, schema.MetaVersion: "v9.9.9", schema.MetaPolicyDigest: "sha256:abc",
		schema.MetaKeyDisplay: "raw", schema.MetaTable: "windows",
	}
	for k, v := range want {
		got := md.KeyValueMetadata().FindValue(k)
		if got == nil || *got != v {
			t.Errorf("metadata %s = %v, want %q", k, got, v)
		}
	}

	// Parquet schema: physical and logical types.
	sc := md.Schema
	wantCols := []struct {
		name string
		phys pq.Type
	}{{"key", pq.Types.ByteArray}, {"limit_name", pq.Types.ByteArray}, {"window_start", pq.Types.Int64}, {"window_end", pq.Types.Int64}, {"requests", pq.Types.Int64}}
	if sc.NumColumns() != len(wantCols) {
		t.Fatalf("%d columns, want %d", sc.NumColumns(), len(wantCols))
	}
	for i, w := range wantCols {
		c := sc.Column(i)
		if c.Name() != w.name || c.PhysicalType() != w.phys {
			t.Errorf("column %d = %s %s, want %s %s", i, c.Name(), c.PhysicalType(), w.name, w.phys)
		}
		switch lt := c.LogicalType().(type) {
		case *pqschema.TimestampLogicalType:
			if !lt.IsAdjustedToUTC() || lt.TimeUnit() != pqschema.TimeUnitMillis {
				t.Errorf("%s: %s, want TIMESTAMP(MILLIS, UTC)", c.Name(), lt)
			}
		case pqschema.StringLogicalType:
			if w.phys != pq.Types.ByteArray {
				t.Errorf("%s: unexpected string type", c.Name())
			}
		case *pqschema.IntLogicalType:
			if lt.BitWidth() != 64 || !lt.IsSigned() {
				t.Errorf("%s: %s, want INT(64, signed)", c.Name(), lt)
			}
		default:
			t.Errorf("%s: logical type %s", c.Name(), lt)
		}
	}

	// Row groups: sized, compressed, with statistics and dictionaries.
	if md.NumRows != int64(len(rows)) {
		t.Errorf("%d rows, want %d", md.NumRows, len(rows))
	}
	if n := rdr.NumRowGroups(); n != 3 {
		t.Errorf("%d row groups, want 3 (of at most %d rows)", n, rowGroupRows)
	}
	for g := range rdr.NumRowGroups() {
		rg := md.RowGroup(g)
		if rg.NumRows() > rowGroupRows {
			t.Errorf("row group %d has %d rows", g, rg.NumRows())
		}
		for c := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			name := cc.PathInSchema().String()
			if cc.Compression() != compress.Codecs.Zstd {
				t.Errorf("rg %d %s: compression %s", g, name, cc.Compression())
			}
			if ok, _ := cc.StatsSet(); !ok {
				t.Errorf("rg %d %s: no statistics", g, name)
				continue
			}
			st, err := cc.Statistics()
			if err != nil || !st.HasMinMax() {
				t.Errorf("rg %d %s: no min/max (%v)", g, name, err)
			}
			if cc.Type() == pq.Types.ByteArray && !cc.HasDictionaryPage() {
				t.Errorf("rg %d %s: string column without dictionary page", g, name)
			}
		}
	}

	// Values, through the Arrow table.
	tbl := readArrow(t, path)
	ts, ok := tbl.Schema().Field(2).Type.(*arrow.TimestampType)
	if !ok || ts.Unit != arrow.Millisecond || ts.TimeZone != "UTC" {
		t.Errorf("window_start arrow type %s, want timestamp[ms, tz=UTC]", tbl.Schema().Field(2).Type)
	}
	if tp := tbl.Schema().Field(0).Type; !arrow.TypeEqual(tp, arrow.BinaryTypes.String) {
		t.Errorf("key arrow type %s, want utf8", tp)
	}
	if tp := tbl.Schema().Field(4).Type; !arrow.TypeEqual(tp, arrow.PrimitiveTypes.Int64) {
		t.Errorf("requests arrow type %s, want int64", tp)
	}
	got := arrowWindows(t, tbl)
	if len(got) != len(rows) {
		t.Fatalf("arrow read %d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if got[i] != rows[i] {
			if !got[i].WindowStart.Equal(rows[i].WindowStart) || got[i].Key != rows[i].Key || got[i].Requests != rows[i].Requests {
				t.Fatalf("row %d = %+v, want %+v", i, got[i], rows[i])
			}
		}
	}

	// Sorting columns: Arrow v15 does not expose them, so read the footer
	// with parquet-go.
	f, err := parquet.OpenFile(readerAt(t, path))
	if err != nil {
		t.Fatal(err)
	}
	for g, rg := range f.Metadata().RowGroups {
		var names []string
		for _, s := range rg.SortingColumns {
			if s.Descending {
				t.Errorf("rg %d: descending sort column", g)
			}
			names = append(names, f.Metadata().Schema[s.ColumnIdx+1].Name)
		}
		if want := "[key limit_name window_start]"; fmtSlice(names) != want {
			t.Errorf("rg %d sorting columns %v, want %s", g, names, want)
		}
	}
}

func arrowWindows(t *testing.T, tbl arrow.Table) []winRow {
	t.Helper()
	var out []winRow
	tr := array.NewTableReader(tbl, 10_000)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		key := rec.Column(0).(*array.String)
		lim := rec.Column(1).(*array.String)
		ws := rec.Column(2).(*array.Timestamp)
		we := rec.Column(3).(*array.Timestamp)
		req := rec.Column(4).(*array.Int64)
		for i := range int(rec.NumRows()) {
			out = append(out, winRow{
				Key: key.Value(i), LimitName: lim.Value(i),
				WindowStart: time.UnixMilli(int64(ws.Value(i))).UTC(),
				WindowEnd:   time.UnixMilli(int64(we.Value(i))).UTC(),
				Requests:    req.Value(i),
			})
		}
	}
	return out
}
