package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// benchLog writes n realistic combined lines (5000 Zipf-distributed keys,
// 2000 lines per second) and returns the path and size.
func benchLog(b *testing.B, n int) (string, int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 4, 4999)
	var buf bytes.Buffer
	for i := range n {
		sec := i / 2000
		fmt.Fprintf(&buf, `10.%d.%d.%d - - [01/Nov/2026:%02d:%02d:%02d +0000] "GET /v1/items/%d?page=%d&api_key=k%016x HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`+"\n",
			rng.IntN(256), rng.IntN(256), rng.IntN(256), sec/3600, sec/60%60, sec%60,
			rng.IntN(100000), rng.IntN(20), zipf.Uint64()*0x9E3779B97F4A7C15, []int{200, 200, 200, 404, 429}[rng.IntN(5)], rng.IntN(20000))
	}
	path := filepath.Join(b.TempDir(), "bench.log")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, int64(buf.Len())
}

// BenchmarkRunPlain is the whole pipeline on one plain file: cutting,
// parsing, key extraction and aggregation, then the merged read-back.
func BenchmarkRunPlain(b *testing.B) {
	path, size := benchLog(b, 200000)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg := baseConfig()
			cfg.Workers, cfg.MaxLineBytes = workers, 0
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				res, err := Run(context.Background(), []string{path}, cfg)
				if err != nil {
					b.Fatal(err)
				}
				res.Close()
			}
		})
	}
}

// BenchmarkRunManyFiles is BenchmarkRunPlain's log gzip'd whole and cut
// into 200 gzip files (1,000 lines each, as an archive of hourly logs
// from many servers), formats detected: what a file costs beyond its
// lines is the difference, reported per file.
func BenchmarkRunManyFiles(b *testing.B) {
	path, size := benchLog(b, 200000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for _, files := range []int{1, 200} {
		dir := b.TempDir()
		var paths []string
		per := (len(lines) + files - 1) / files
		for i := 0; i*per < len(lines); i++ {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(bytes.Join(lines[i*per:min((i+1)*per, len(lines))], nil))
			zw.Close()
			p := filepath.Join(dir, fmt.Sprintf("part-%03d.log.gz", i))
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			paths = append(paths, p)
		}
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			cfg := baseConfig()
			cfg.Workers, cfg.MaxLineBytes, cfg.NewParser = 1, 0, nil
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				res, err := Run(context.Background(), paths, cfg)
				if err != nil {
					b.Fatal(err)
				}
				res.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(len(paths)), "us/file")
		})
	}
}

// BenchmarkReadBack reads a run's merged aggregate back as the evaluator
// does: every input prefetched on its own goroutine, merged, each series
// into one reused buffer. One worker holds one State (the merge passes
// it through), two hold two (merged per key); a small budget spills
// runs, which are decompressed and merged.
func BenchmarkReadBack(b *testing.B) {
	path, _ := benchLog(b, 200000)
	for _, c := range []struct {
		name    string
		workers int
		memory  int64
	}{{"workers=1", 1, 0}, {"workers=2", 2, 0}, {"spilled", 2, 4 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := baseConfig()
			cfg.Workers, cfg.MaxLineBytes, cfg.MemoryBytes = c.workers, 0, c.memory
			cfg.TmpDir = b.TempDir()
			res, err := Run(context.Background(), []string{path}, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer res.Close()
			b.ReportAllocs()
			var points int
			var requests int64
			for b.Loop() {
				points = 0
				err := each(res.Source, func(s *aggregate.Series) error {
					points += len(s.Points)
					for i := range s.Points {
						requests += s.Points[i].Requests // as any consumer reads them
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
		})
	}
}
