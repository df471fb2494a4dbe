package parse

import (
	"fmt"
	"strings"
	"testing"
)

// benchLines is a small mix of realistic combined and common lines, with
// times that change every few lines as in a real log.
func benchLines() [][]byte {
	var lines [][]byte
	for i := range 64 {
		// The key parameter varies as keyrate-gen's does, so that later
		// key sources get their share of the work.
		param := []string{"api_key", "api_key", "api_key", "apikey", "key"}[i%5]
		l := fmt.Sprintf(`10.1.%d.%d - - [01/Nov/2026:13:%02d:%02d +0000] "GET /v1/items/%d?page=2&%s=k%016x HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`,
			i%7, i, i/32, i/4, i*37, param, i*0x9E3779B9, []int{200, 404, 429}[i%3], i*100)
		if i%8 == 0 {
			l = l[:strings.Index(l, ` "-" "Mozilla`)] // common format
		}
		lines = append(lines, []byte(l))
	}
	return lines
}

func totalBytes(lines [][]byte) int64 {
	var n int64
	for _, l := range lines {
		n += int64(len(l)) + 1
	}
	return n
}

func BenchmarkCombinedParse(b *testing.B) {
	lines := benchLines()
	var rec Record
	p := NewCombined()
	b.SetBytes(totalBytes(lines) / int64(len(lines)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.Parse(lines[i%len(lines)], &rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyExtract(b *testing.B) {
	lines := benchLines()
	recs := make([]Record, len(lines))
	for i, l := range lines {
		if err := (Combined{}).Parse(l, &recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	k, err := NewKeyExtractor(DefaultKeySources)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(totalBytes(lines) / int64(len(lines)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if k.Extract(&recs[i%len(recs)]) == nil {
			b.Fatal("no key")
		}
	}
}

func BenchmarkParseCLFTime(b *testing.B) {
	ts := [][]byte{[]byte("01/Nov/2026:13:00:01 +0000"), []byte("01/Nov/2026:13:00:02 +0000"), []byte("10/Oct/2000:13:55:36 -0700")}
	b.ReportAllocs()
	b.SetBytes(26)
	for i := 0; b.Loop(); i++ {
		if _, ok := ParseCLFTime(ts[i%2]); !ok {
			b.Fatal("bad time")
		}
	}
}

// TestHotPathAllocationFree guards the per-line cost: parsing a valid
// line and extracting its key allocate nothing.
func TestHotPathAllocationFree(t *testing.T) {
	lines := benchLines()
	var rec Record
	k, _ := NewKeyExtractor(DefaultKeySources)
	k.Extract(&rec) // warm the key buffer
	i := 0
	n := testing.AllocsPerRun(500, func() {
		if err := (Combined{}).Parse(lines[i%len(lines)], &rec); err != nil {
			t.Fatal(err)
		}
		k.Extract(&rec)
		i++
	})
	if n != 0 {
		t.Fatalf("%v allocations per line, want 0", n)
	}
}

// BenchmarkDetectFormat detects the format of a combined log's first 64
// KiB, as the pipeline does for every file: "fresh" with a new Detector (a
// run's first file), "next" with one that detected it before (the rest of
// an archive), against "every-format", the rule by brute force (every
// format parses every sampled line), which is what detection cost before.
func BenchmarkDetectFormat(b *testing.B) {
	lines := benchLines()
	var head []byte
	for i := 0; len(head) < 64<<10; i++ {
		head = append(append(head, lines[i%len(lines)]...), '\n')
	}
	b.Run("every-format", func(b *testing.B) {
		for b.Loop() {
			if detectReference(sampleLines(head, false)) != "combined" {
				b.Fatal("not combined")
			}
		}
	})
	for _, reuse := range []bool{false, true} {
		name := map[bool]string{false: "fresh", true: "next"}[reuse]
		b.Run(name, func(b *testing.B) {
			var d Detector
			b.ReportAllocs()
			for b.Loop() {
				if !reuse {
					d = Detector{}
				}
				if f, err := d.Detect(head, false, FormatOptions{}); err != nil || f.Name != "combined" {
					b.Fatal(f.Name, err)
				}
			}
		})
	}
}
