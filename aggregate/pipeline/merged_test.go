package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
)

// mixedInputs writes inputs that exercise every per-file path of the
// pipeline at once: combined lines cut into blocks (with malformed,
// blank, NUL-padded, over-long and non-UTF-8-keyed lines), a W3C file
// whose "#Fields:" header changes mid-file (stateful: each block is parsed
// with the header in force at its start), and a truncated gzip stream
// (corrupt: its valid prefix counts).
func mixedInputs(t *testing.T) []string {
	dir := t.TempDir()
	var comb bytes.Buffer
	for i := range 3000 {
		method := []string{"GET", "POST"}[i%2]
		switch {
		case i%97 == 0:
			fmt.Fprintf(&comb, "junk line %d\n", i)
		case i%211 == 0:
			comb.WriteString("\n")
		case i%331 == 0:
			fmt.Fprintf(&comb, "\x00\x00\x0010.0.0.1 - - [25/Nov/2026:10:00:%02d +0000] \"GET /v1/search?api_key=k%d HTTP/1.1\" 200 5 \"-\" \"ua\"\n", i%60, i%5)
		case i%503 == 0:
			fmt.Fprintf(&comb, "10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] \"GET /%s?api_key=k1 HTTP/1.1\" 200 5 \"-\" \"ua\"\n", strings.Repeat("x", 400))
		case i%601 == 0:
			fmt.Fprintf(&comb, "10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] \"GET /?api_key=k\xff%d HTTP/1.1\" 200 5 \"-\" \"ua\"\n", i)
		default:
			fmt.Fprintf(&comb, "10.0.%d.1 - - [25/Nov/2026:10:%02d:%02d +0000] \"%s /v1/search?api_key=k%d HTTP/1.1\" %d %d \"-\" \"ua\"\n",
				i%9, i/60%60, i%60, method, i*7%13, []int{200, 429, 503, 404}[i%4], i%500)
		}
	}
	var w3c bytes.Buffer
	w3c.WriteString("#Software: IIS\n#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status\n")
	for i := range 400 {
		if i == 200 {
			// NUL-padded (copytruncate) and CRLF-ended: the pipeline
			// hands the parser "#Fields: ..." all the same.
			w3c.WriteString("\x00\x00#Fields: date time cs-uri-query cs-method cs-uri-stem sc-status\r\n")
		}
		if i < 200 {
			fmt.Fprintf(&w3c, "2026-11-25 10:%02d:%02d POST /v1/search api_key=k%d %d\n", i/60, i%60, i%4, []int{200, 429}[i%2])
		} else {
			fmt.Fprintf(&w3c, "2026-11-25 10:%02d:%02d api_key=k%d GET /v1/search %d\n", i/60, i%60, i%4, []int{200, 429}[i%2])
		}
	}
	z := gzipped(t, genLog(5000))
	// The W3C file again, gzip'd (decompressed by a read-ahead while the
	// reader parses), and cut short.
	zw := gzipped(t, w3c.Bytes())
	return []string{
		writeFile(t, dir, "a.log", comb.Bytes()),
		writeFile(t, dir, "b.w3c", w3c.Bytes()),
		writeFile(t, dir, "c.log.gz", z[:len(z)*2/3]),
		writeFile(t, dir, "d.log", genLog(700)),
		writeFile(t, dir, "e.w3c.gz", zw),
		writeFile(t, dir, "f.w3c.gz", zw[:len(zw)*2/3]),
	}
}

type dumped struct {
	files   []FileStats
	samples []Sample
	all     []point
	classes map[aggregate.Class][]point
}

func dumpResult(t *testing.T, res *Result) dumped {
	t.Helper()
	d := dumped{files: res.Files, samples: res.Samples, all: points(res.Source), classes: map[aggregate.Class][]point{}}
	for _, c := range res.Classes {
		d.classes[c.Class] = points(c.Partials)
	}
	// A second read must give the same: the evaluator reads sources
	// more than once.
	if again := points(res.Source); !reflect.DeepEqual(again, d.all) {
		t.Fatalf("second read of Source differs: %d vs %d points", len(again), len(d.all))
	}
	return d
}

// TestMixedFormatsIdenticalForEverySplit: whatever the number of workers,
// the block size and the memory budget (spilling every block), the
// per-file statistics, malformed-line samples (file:line), main and
// filtered aggregates and the key check are identical.
func TestMixedFormatsIdenticalForEverySplit(t *testing.T) {
	paths := mixedInputs(t)
	base := Config{
		Format:         "auto",
		KeySources:     []string{"query:api_key"},
		ThrottleStatus: []int{429},
		MaxLineBytes:   300,
		MaxSamples:     6,
		SkipCorrupt:    true,
		Filters: []policy.RequestFilter{
			{Methods: []string{"POST"}, Paths: []string{"/v1/search*"}, ExcludeStatus: []int{503}},
			{ExcludeStatus: []int{404}},
		},
	}
	var ref dumped
	for i, c := range []struct {
		workers, block int
		memory         int64
	}{{1, 0, 0}, {8, 1, 0}, {3, 97, 0}, {2, 4096, 1}, {8, 0, 1}} {
		cfg := base
		cfg.Workers, cfg.BlockBytes, cfg.MemoryBytes = c.workers, c.block, c.memory
		cfg.TmpDir = t.TempDir()
		res, err := Run(context.Background(), paths, cfg)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		got := dumpResult(t, res)
		if c.memory > 0 && res.Spills == 0 {
			t.Errorf("%+v: no spill under a 1-byte budget", c)
		}
		if err := res.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(cfg.TmpDir); len(left) != 0 {
			t.Errorf("%+v: %d entries left in the tmp dir", c, len(left))
		}
		if i == 0 {
			ref = got
			continue
		}
		if !reflect.DeepEqual(got.files, ref.files) {
			t.Errorf("%+v: file stats\n got %+v\nwant %+v", c, got.files, ref.files)
		}
		if !reflect.DeepEqual(got.samples, ref.samples) {
			t.Errorf("%+v: samples\n got %+v\nwant %+v", c, got.samples, ref.samples)
		}
		if !reflect.DeepEqual(got.all, ref.all) || !reflect.DeepEqual(got.classes, ref.classes) {
			t.Errorf("%+v: aggregates differ", c)
		}
	}
	// The reference itself: what each path must have produced.
	a, w, gz := ref.files[0], ref.files[1], ref.files[2]
	if a.Format != "combined" || a.NULBytes == 0 || a.InvalidUTF8 == 0 || a.Malformed == 0 || a.Lines != 3000 {
		t.Errorf("combined file stats %+v", a)
	}
	if w.Format != "w3c" || w.Parsed != 400 || w.Skipped != 3 || w.TimePrecision != "s" {
		t.Errorf("w3c file stats %+v (a header change mid-file must be honoured)", w)
	}
	if !gz.Corrupt || gz.Lines == 0 || gz.Lines >= 5000 || gz.Parsed != gz.Lines {
		t.Errorf("truncated gzip stats %+v: want corrupt with its valid prefix", gz)
	}
	// The gzip'd W3C file reads exactly as the plain one; cut short, it
	// keeps its valid prefix and is marked corrupt.
	wz, wcut := ref.files[4], ref.files[5]
	same := wz
	same.Path, same.Compression, same.Bytes = w.Path, w.Compression, w.Bytes
	if !reflect.DeepEqual(same, w) || wz.Compression != "gzip" || wz.Bytes == 0 {
		t.Errorf("gzip'd w3c stats\n %+v\nwant as plain\n %+v", wz, w)
	}
	if !wcut.Corrupt || wcut.Format != "w3c" || wcut.Parsed == 0 || wcut.Parsed >= w.Parsed {
		t.Errorf("truncated gzip'd w3c stats %+v: want corrupt with its valid prefix", wcut)
	}
	if len(ref.samples) != 6 || ref.samples[0].File != ref.files[0].Path || ref.samples[0].Line != 1 {
		t.Errorf("samples %+v: want the first 6, file:line exact", ref.samples)
	}
	// Filter 0 counts POST /v1/search* but 503s, filter 1 all but 404s:
	// class 0 is what neither counts (404s out of filter 0's scope), 1
	// what only filter 0 counts (its 404s), 2 what only filter 1 counts,
	// 3 what both count.
	if len(ref.classes) != 4 {
		t.Errorf("%d classes, want 4", len(ref.classes))
	}
	var sum int64
	for c, pts := range ref.classes {
		if len(pts) == 0 && c != 0 {
			t.Errorf("class %d is empty", c)
		}
		for _, p := range pts {
			sum += p.requests
		}
	}
	var all int64
	for _, p := range ref.all {
		all += p.requests
	}
	if sum != all || all == 0 {
		t.Errorf("the classes hold %d requests, all %d: each request is in exactly one class", sum, all)
	}
}
