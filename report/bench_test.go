package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report/schema"
)

// BenchmarkTableWrite writes a windows-like table (1,000 keys × 200
// minute windows) as CSV and Parquet and reports the Parquet size. It
// uses only the API the first version of report had (NewSetFS with
// OSFS is NewSet), so it runs on both for a ratio.
func BenchmarkTableWrite(b *testing.B) {
	benchTable(b, OSFS{}, tableOf[winRow]("windows"), genWindows(200_000, 1000, day0, 1))
}

// benchTable writes rows into def's table as CSV and Parquet through
// fsys, a new set each time, and reports the time per row and the
// Parquet file's size.
func benchTable[T any](b *testing.B, fsys FS, def schema.TableOf[T], rows []T) {
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		dir := b.TempDir()
		set, err := NewSetFS(dir, []Format{CSV, Parquet}, fsys)
		if err != nil {
			b.Fatal(err)
		}
		tab, err := NewTable(set, def)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			if err := tab.Write(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := set.Commit(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, def.Name+".parquet"))
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
	b.ReportMetric(float64(size), "parquet-bytes")
}

// BenchmarkCSVWrite formats windows-like rows as CSV, without the file
// system: the per-row cost of the CSV writer alone. Like
// BenchmarkTableWrite it uses only long-standing API, for ratios.
func BenchmarkCSVWrite(b *testing.B) {
	rows := genWindows(100_000, 1000, day0, 1)
	tab, err := newCSVTable[winRow](io.Discard, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows {
			if err := tab.write(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

// BenchmarkKeysTableWrite writes the keys table of a run with 110,000
// distinct keys (keyrate-gen --keys 256000 over 1M lines) as CSV and
// Parquet, without fsync: a table whose key column has a new value in
// every row.
func BenchmarkKeysTableWrite(b *testing.B) {
	rows := make([]schema.KeyRow, 110_000)
	for i := range rows {
		t := day0.Add(time.Duration(i%3600) * time.Second)
		rows[i] = schema.KeyRow{Key: fmt.Sprintf("k%016x", uint64(i)*0x9e3779b97f4a7c15>>1|uint64(i)), Plan: "cli",
			Requests: int64(1 + i%17), FirstSeen: t, LastSeen: t.Add(time.Minute), Status2xx: int64(1 + i%13), BytesSent: int64(i) * 8888}
	}
	slices.SortFunc(rows, func(a, b schema.KeyRow) int { return strings.Compare(a.Key, b.Key) })
	benchTable(b, nosyncFS{}, schema.Keys, rows)
}
