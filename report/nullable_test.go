package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/keyrate/keyrate/report/schema"
)

// usageLike has nullable columns and a routing date that is not a
// column, as schema 2.0's usage rows have.
type usageLike struct {
	Key    string    `parquet:"key,dict"`
	Period time.Time `parquet:"period_start,optional,timestamp(millisecond)"`
	Quota  *int64    `parquet:"quota,optional"`
	Count  int64     `parquet:"count"`
	Date   time.Time `parquet:"-"`
}

// TestNullableColumnsAndRoutingDate: a zero optional time and a nil
// optional number are empty CSV cells and Parquet nulls (0 stays 0), and
// rows go to the partition of their routing field, which no file shows.
func TestNullableColumnsAndRoutingDate(t *testing.T) {
	dir := t.TempDir()
	set, err := NewSet(dir, []Format{CSV, Parquet}, WithPartition(PartitionDay, day0, day0.AddDate(0, 0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(set, schema.TableOf[usageLike]{Table: schema.Table{Name: "usage", SortOrder: []string{"key"}, PartitionBy: "Date"}})
	if err != nil {
		t.Fatal(err)
	}
	zero, five := int64(0), int64(5)
	rows := []usageLike{
		{Key: "a", Count: 1, Date: day0},
		{Key: "b", Period: day0.Add(-time.Hour), Quota: &zero, Count: 2, Date: day0},
		{Key: "c", Period: day0, Quota: &five, Count: 3, Date: day0.AddDate(0, 0, 1)},
	}
	for i := range rows {
		if err := tab.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Commit(context.Background(), rowsManifest("usage", len(rows))); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "usage", "date=2026-11-23")
	b, err := os.ReadFile(filepath.Join(first, "part-0.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "key,period_start,quota,count\na,,,1\nb,2026-11-22T23:00:00Z,0,2\n"; string(b) != want {
		t.Errorf("CSV:\n%s\nwant\n%s", b, want)
	}
	b, err = os.ReadFile(filepath.Join(dir, "usage", "date=2026-11-24", "part-0.csv"))
	if err != nil || string(b) != "key,period_start,quota,count\nc,2026-11-23T00:00:00Z,5,3\n" {
		t.Errorf("second date's CSV: %q, %v", b, err)
	}
	tbl := readArrow(t, filepath.Join(first, "part-0.parquet"))
	if tbl.NumCols() != 4 {
		t.Fatalf("%d Parquet columns, want 4 (no routing date)", tbl.NumCols())
	}
	period := tbl.Column(1).Data().Chunk(0).(*array.Timestamp)
	quota := tbl.Column(2).Data().Chunk(0).(*array.Int64)
	if !period.IsNull(0) || !quota.IsNull(0) || period.IsNull(1) || quota.IsNull(1) || quota.Value(1) != 0 {
		t.Errorf("nulls: period %v %v, quota %v %v (value %d); want null, set, null, set 0",
			period.IsNull(0), period.IsNull(1), quota.IsNull(0), quota.IsNull(1), quota.Value(1))
	}
}
