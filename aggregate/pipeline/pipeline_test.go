package pipeline

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
)

func pipelineConfig(workers int) Config {
	return Config{
		NewParser:      func() parse.LineParser { return parse.Combined{} },
		KeySources:     parse.DefaultKeySources,
		ThrottleStatus: []int{429},
		Workers:        workers,
		MaxSamples:     10,
	}
}

// TestPipelineMatchesBruteForce writes random requests as combined lines
// with random UTC offsets into several files, and checks the merged
// per-(key, second) counts against the generated truth.
func TestPipelineMatchesBruteForce(t *testing.T) {
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 11))
		dir := t.TempDir()
		type cellKey struct {
			key string
			ts  int64
		}
		truth := map[cellKey]int64{}
		rejected := map[cellKey]int64{}
		nfiles := 1 + r.IntN(5)
		files := make([][]string, nfiles)
		keyless := 0
		for range 2000 {
			ts := int64(1_795_428_000) + r.Int64N(180)
			offset := time.Duration(r.IntN(49)-24) * 30 * time.Minute
			when := time.Unix(ts, 0).In(time.FixedZone("", int(offset.Seconds())))
			key := fmt.Sprintf("key-%d", r.IntN(7))
			status := []int{200, 429, 503}[r.IntN(3)]
			target := "/v1/x?api_key=" + key
			if r.IntN(10) == 0 {
				target, key = "/v1/x", ""
				keyless++
			}
			line := fmt.Sprintf(`192.0.2.%d - - [%s] "GET %s HTTP/1.1" %d 10 "-" "ua"`,
				r.IntN(255), when.Format("02/Jan/2006:15:04:05 -0700"), target, status)
			f := r.IntN(nfiles)
			files[f] = append(files[f], line)
			if key != "" {
				truth[cellKey{key, ts * 1000}]++
				if status == 429 {
					rejected[cellKey{key, ts * 1000}]++
				}
			}
		}
		var paths []string
		for i, lines := range files {
			p := filepath.Join(dir, fmt.Sprintf("f%d.log", i))
			os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
			paths = append(paths, p)
		}
		res, err := Run(context.Background(), paths, pipelineConfig(1+r.IntN(3)))
		if err != nil {
			t.Fatal(err)
		}
		got := map[cellKey]int64{}
		each(res.Source, func(s *aggregate.Series) error {
			for _, p := range s.Points {
				got[cellKey{s.Key, p.TimeMillis}] = p.Requests
				if p.Rejected != rejected[cellKey{s.Key, p.TimeMillis}] {
					t.Errorf("seed %d: %s@%d rejected %d, want %d", seed, s.Key, p.TimeMillis, p.Rejected, rejected[cellKey{s.Key, p.TimeMillis}])
				}
			}
			return nil
		})
		if len(got) != len(truth) {
			t.Fatalf("seed %d: %d cells, want %d", seed, len(got), len(truth))
		}
		for k, n := range truth {
			if got[k] != n {
				t.Fatalf("seed %d: %v has %d requests, want %d", seed, k, got[k], n)
			}
		}
		var kl int64
		for _, f := range res.Files {
			kl += f.Keyless
		}
		if kl != int64(keyless) {
			t.Errorf("seed %d: keyless %d, want %d", seed, kl, keyless)
		}
	}
}

// TestStateGrowsWithCellsNotLines is how issue 4's memory promise is
// checked structurally: 50,000 lines over the same few (key, second)
// cells leave exactly that many cells, and the same holds at 5× the lines.
func TestStateGrowsWithCellsNotLines(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{10_000, 50_000} {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `192.0.2.1 - - [23/Nov/2026:10:00:0%d +0000] "GET /?api_key=k%d HTTP/1.1" 200 1 "-" "ua"`+"\n", i%3, i%2)
		}
		p := filepath.Join(dir, fmt.Sprintf("%d.log", n))
		os.WriteFile(p, []byte(b.String()), 0o644)
		res, err := Run(context.Background(), []string{p}, pipelineConfig(1))
		if err != nil {
			t.Fatal(err)
		}
		var cells, keys int
		each(res.Source, func(s *aggregate.Series) error {
			keys++
			cells += len(s.Points)
			return nil
		})
		if cells != 6 || keys != 2 {
			t.Errorf("%d lines: %d cells and %d keys, want 6 and 2", n, cells, keys)
		}
	}
}

func TestMalformedLinesAreCountedAndSampled(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mixed.log")
	good := `192.0.2.1 - - [23/Nov/2026:10:00:00 +0000] "GET /?api_key=k HTTP/1.1" 200 1`
	var lines []string
	for i := range 30 {
		if i%2 == 0 {
			lines = append(lines, fmt.Sprintf("junk %d", i))
		} else {
			lines = append(lines, good)
		}
	}
	lines = append(lines, "", strings.Repeat("x", 300))
	os.WriteFile(p, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o644)
	cfg := pipelineConfig(1)
	cfg.MaxLineBytes = 200
	res, err := Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Lines != 32 || f.Parsed != 15 || f.Malformed != 16 {
		t.Errorf("lines %d parsed %d malformed %d; want 32 15 16", f.Lines, f.Parsed, f.Malformed)
	}
	if len(res.Samples) != 10 || res.Samples[0].Line != 1 || res.Samples[1].Line != 3 || res.Samples[0].File != p {
		t.Errorf("samples %+v", res.Samples)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	os.WriteFile(p, []byte(strings.Repeat("x\n", 10000)), 0o644)
	if _, err := Run(ctx, []string{p}, pipelineConfig(1)); err == nil {
		t.Error("a cancelled run succeeded")
	}
}

// each calls fn with every series of p, in order.
func each(p aggregate.Partials, fn func(*aggregate.Series) error) error {
	c, err := p.Open()
	if err != nil {
		return err
	}
	defer c.Close()
	var s aggregate.Series
	for {
		if s.Key, s.Points, err = c.Next(s.Points[:0]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
}
