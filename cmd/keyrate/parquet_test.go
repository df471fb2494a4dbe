package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/schema"
)

var stringColumns = map[string]bool{"key": true, "limit_name": true, "plan": true, "algorithm": true, "scope": true}

// TestReportParquetTypes reads every report table with Arrow and checks
// each column's physical and logical type against the documented schema,
// and that Parquet and CSV hold the same rows.
func TestReportParquetTypes(t *testing.T) {
	dir := t.TempDir()
	analyzeInto(t, dir, sampleDir)
	for _, name := range append(tables, "throttle_audit") {
		csvData, err := os.ReadFile(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		header := strings.Split(string(csvData[:bytes.IndexByte(csvData, '\n')]), ",")
		csvRows := int64(bytes.Count(csvData, []byte("\n")) - 1)

		rdr, err := file.OpenParquetFile(filepath.Join(dir, name+".parquet"), false)
		if err != nil {
			t.Fatal(err)
		}
		sc := rdr.MetaData().Schema
		if sc.NumColumns() != len(header) {
			t.Fatalf("%s: %d parquet columns, %d CSV columns", name, sc.NumColumns(), len(header))
		}
		for i := range sc.NumColumns() {
			col := sc.Column(i)
			if col.Name() != header[i] {
				t.Errorf("%s column %d: parquet %q, CSV %q", name, i, col.Name(), header[i])
			}
			switch {
			case stringColumns[col.Name()]:
				if col.PhysicalType() != parquet.Types.ByteArray || !col.LogicalType().Equals(schema.StringLogicalType{}) {
					t.Errorf("%s.%s is %s/%s, want UTF-8 string", name, col.Name(), col.PhysicalType(), col.LogicalType())
				}
			case strings.HasPrefix(col.Name(), "window_") || strings.HasSuffix(col.Name(), "_seen"):
				ts, ok := col.LogicalType().(*schema.TimestampLogicalType)
				if col.PhysicalType() != parquet.Types.Int64 || !ok || !ts.IsAdjustedToUTC() || ts.TimeUnit() != schema.TimeUnitMillis {
					t.Errorf("%s.%s is %s/%s, want TIMESTAMP(MILLIS, UTC)", name, col.Name(), col.PhysicalType(), col.LogicalType())
				}
			case col.Name() == "peak_usage_pct":
				if col.PhysicalType() != parquet.Types.Double {
					t.Errorf("%s.%s is %s, want DOUBLE", name, col.Name(), col.PhysicalType())
				}
			default:
				if col.PhysicalType() != parquet.Types.Int64 {
					t.Errorf("%s.%s is %s, want INT64", name, col.Name(), col.PhysicalType())
				}
			}
		}
		if rdr.NumRows() != csvRows {
			t.Errorf("%s: %d parquet rows, %d CSV rows", name, rdr.NumRows(), csvRows)
		}
		rdr.Close()
	}
}
