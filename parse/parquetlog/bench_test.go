package parquetlog

import (
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/parse"
)

// writeBenchLog writes n CloudFront-style rows (two row groups above
// 122,880 rows, ZSTD pages, dictionary strings, nullable values).
func writeBenchLog(tb testing.TB, n int) string {
	rng := rand.New(rand.NewPCG(1, 1))
	rows := make([]cfRow, n)
	for i := range rows {
		sec := i / 400
		rows[i] = cfRow{
			Date: "2026-11-01", Time: fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60),
			CIP: fmt.Sprintf("10.0.%d.%d", rng.IntN(256), rng.IntN(256)), Method: "GET",
			Stem: fmt.Sprintf("/v1/items/%d", rng.IntN(1000)), Query: ptr(fmt.Sprintf("api_key=k%04d", rng.IntN(5000))),
			Status: []int32{200, 200, 404, 429}[rng.IntN(4)], Bytes: ptr(int64(rng.IntN(20000))), Location: "LAX1",
			Epoch: float64(sec),
		}
	}
	path := filepath.Join(tb.TempDir(), "cf.parquet")
	if err := parquet.WriteFile(path, rows, parquet.MaxRowsPerRowGroup(122_880), parquet.Compression(&parquet.Zstd)); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestParquetRowsDoNotAllocate: reading a row allocates nothing once its
// row group is open (the target joined from stem and query used to take
// two allocations a row).
func TestParquetRowsDoNotAllocate(t *testing.T) {
	src, err := Open(writeBenchLog(t, 5000), parse.FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var rec parse.Record
	for range 100 { // open the row group, warm the buffers
		if err := src.Next(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := src.Next(&rec); err != nil {
			t.Fatal(err)
		}
	}); n > 0.05 {
		t.Errorf("%.2f allocations per row", n)
	}
	if string(rec.Target) == "" || !strings.Contains(string(rec.Target), "?api_key=k") {
		t.Errorf("target %q: want stem and query joined", rec.Target)
	}
}

// BenchmarkParquetLogRows reads a CloudFront-style Parquet log of 200,000
// rows (writeBenchLog) into Records, as a reader goroutine does, in ns
// per row. A Parquet file is read by one goroutine, so this is its
// ceiling.
func BenchmarkParquetLogRows(b *testing.B) {
	const n = 200_000
	path := writeBenchLog(b, n)
	b.ReportAllocs()
	var rec parse.Record
	for b.Loop() {
		src, err := Open(path, parse.FormatOptions{})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			err := src.Next(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		src.Close()
		if got != n {
			b.Fatalf("read %d rows of %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
