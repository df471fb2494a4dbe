package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// TestReportsReadByArrow reads keyrate's Parquet reports back with Apache
// Arrow, the reader warehouses and data tools use: the columns, their
// types and the values must come through.
func TestReportsReadByArrow(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "a.log")
	line := func(key, ts string) string {
		return `1.2.3.4 - - [` + ts + ` +0000] "GET /?api_key=` + key + ` HTTP/1.1" 200 10 "-" "-"` + "\n"
	}
	os.WriteFile(log, []byte(line("k1", "10/Oct/2000:13:55:36")+line("k1", "10/Oct/2000:13:55:37")+line("k2", "10/Oct/2000:13:57:00")), 0o644)
	out := filepath.Join(dir, "out")
	if code, stderr := runStderr(t, "analyze", "--limit", "1/min", "--out", out, log); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	keys := readArrowTable(t, filepath.Join(out, "keys.parquet"))
	defer keys.Release()
	if keys.NumRows() != 2 {
		t.Fatalf("keys.parquet: %d rows", keys.NumRows())
	}
	wantCols := map[string]arrow.Type{"key": arrow.STRING, "requests": arrow.INT64, "first_seen": arrow.TIMESTAMP, "violations": arrow.INT64}
	for name, typ := range wantCols {
		idx := keys.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Errorf("keys.parquet has no column %s", name)
			continue
		}
		got := keys.Schema().Field(idx[0]).Type
		if d, ok := got.(*arrow.DictionaryType); ok {
			got = d.ValueType
		}
		if got.ID() != typ {
			t.Errorf("column %s: type %s, want %s", name, got, typ)
		}
	}
	req := keys.Column(keys.Schema().FieldIndices("requests")[0]).Data().Chunk(0).(*array.Int64)
	viol := keys.Column(keys.Schema().FieldIndices("violations")[0]).Data().Chunk(0).(*array.Int64)
	if req.Value(0) != 2 || req.Value(1) != 1 || viol.Value(0) != 1 || viol.Value(1) != 0 {
		t.Errorf("requests %v violations %v", req, viol)
	}
	first := keys.Column(keys.Schema().FieldIndices("first_seen")[0]).Data().Chunk(0).(*array.Timestamp)
	unit := first.DataType().(*arrow.TimestampType).Unit
	if got := first.Value(0).ToTime(unit).UTC().Format("2006-01-02T15:04:05Z"); got != "2000-10-10T13:55:36Z" {
		t.Errorf("first_seen %s", got)
	}
}

func readArrowTable(t *testing.T, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}
