package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/xxh3"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

// randomLog builds a log that exercises every path of the cutter: valid
// combined and common lines, malformed ones, blank lines, CRLF endings,
// lines over the length limit and (sometimes) no final newline.
func randomLog(rng *rand.Rand, lines int) []byte {
	var b bytes.Buffer
	for i := range lines {
		// In time order, but as logs stamped with a request's start
		// are written: some lines a few seconds back, rarely ten minutes
		// (the two ways a State finds cells when a time goes back).
		sec := 700 + i/50
		switch r := rng.IntN(200); {
		case r == 0:
			sec -= 600
		case r < 25:
			sec -= rng.IntN(4)
		}
		switch r := rng.IntN(100); {
		case r < 3:
			b.WriteString("garbage line " + strings.Repeat("x", rng.IntN(40)))
		case r < 5:
			// over the 300-byte limit the tests use
			b.WriteString(`1.2.3.4 - - [01/Nov/2026:00:00:00 +0000] "GET /?api_key=long` + strings.Repeat("L", 300+rng.IntN(900)) + `" 200 1`)
		case r < 7:
		default:
			key := fmt.Sprintf("k%d", rng.IntN(40))
			fmt.Fprintf(&b, `10.0.0.%d - - [01/Nov/2026:00:%02d:%02d +0000] "GET /x?api_key=%s HTTP/1.1" %d %d`,
				rng.IntN(9), sec/60%60, sec%60, key, []int{200, 404, 429, 503}[rng.IntN(4)], rng.IntN(999))
			if rng.IntN(2) == 0 {
				b.WriteString(` "-" "curl"`)
			}
		}
		if rng.IntN(10) == 0 {
			b.WriteByte('\r')
		}
		if i < lines-1 || rng.IntN(2) == 0 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// want is the brute-force reference: line by line with the LineReader
// and one map, the way the pipeline worked before blocks and workers.
type want struct {
	cells   map[string]map[int64]aggregate.Counters
	stats   []FileStats
	samples []Sample
}

func reference(t *testing.T, paths []string, cfg Config) want {
	t.Helper()
	w := want{cells: map[string]map[int64]aggregate.Counters{}}
	keys, _ := parse.NewKeyExtractor(cfg.KeySources)
	p := cfg.NewParser()
	var rec parse.Record
	var opener input.Opener
	defer opener.Close()
	for _, path := range paths {
		in, err := opener.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st := FileStats{Path: path, Compression: string(in.Compression)}
		days := map[int64]int64{}
		lr := input.NewLineReader(in, cfg.MaxLineBytes)
		bad := func(line []byte, reason string) {
			st.Malformed++
			if len(w.samples) < cfg.MaxSamples {
				w.samples = append(w.samples, Sample{File: path, Line: lr.Line(), Reason: reason, Excerpt: string(line[:min(len(line), excerptBytes)])})
			}
		}
		for {
			line, err := lr.Next()
			if err == io.EOF {
				break
			}
			st.Lines++
			if err != nil {
				bad(nil, err.Error())
				continue
			}
			if len(line) == 0 {
				continue
			}
			if err := p.Parse(line, &rec); err != nil {
				bad(line, err.Error())
				continue
			}
			st.Parsed++
			st.TimePrecision = "s" // the generated lines have whole seconds
			if src := rec.TimeSource; src.Basis != parse.BasisArrival {
				st.TimeNotArrival++
				st.TimeAdvice = src.Advice
			}
			st.TimeSource = rec.TimeSource.String() // the same for every line
			days[int64(math.Floor(float64(rec.TimeMillis)/dayMillis))]++
			key := keys.Extract(&rec)
			if key == nil {
				st.Keyless++
				continue
			}
			m := w.cells[string(key)]
			if m == nil {
				m = map[int64]aggregate.Counters{}
				w.cells[string(key)] = m
			}
			c := m[rec.TimeMillis]
			c.Requests++
			if rec.Status == 429 {
				c.Status429++
				c.Rejected++
			}
			switch rec.Status / 100 {
			case 2:
				c.Status2xx++
			case 4:
				c.Status4xx++
			case 5:
				c.Status5xx++
			}
			c.BytesSent += rec.Bytes
			m[rec.TimeMillis] = c
		}
		st.Bytes = in.CompressedBytes()
		in.Close()
		st.Dates = dateCounts(days)
		st.Length, st.Hash, st.Head = oneShotIdentity(t, path)
		w.stats = append(w.stats, st)
	}
	return w
}

// oneShotIdentity is an input's identity computed apart from the
// pipeline: its decompressed bytes read whole, hashed in one call.
func oneShotIdentity(t testing.TB, path string) (length int64, hash, head string) {
	var o input.Opener
	defer o.Close()
	in, err := o.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	all, err := io.ReadAll(in)
	if err != nil {
		t.Fatal(err)
	}
	hex := func(b []byte) string {
		h := xxh3.Hash128(b).Bytes()
		return fmt.Sprintf("%x", h[:])
	}
	return int64(len(all)), hex(all), hex(all[:min(len(all), HeadBytes)])
}

func check(t *testing.T, label string, res *Result, w want) {
	t.Helper()
	got := map[string]map[int64]aggregate.Counters{}
	var order []string
	err := each(res.Source, func(s *aggregate.Series) error {
		order = append(order, s.Key)
		m := map[int64]aggregate.Counters{}
		for i, p := range s.Points {
			if i > 0 && p.TimeMillis <= s.Points[i-1].TimeMillis {
				return fmt.Errorf("key %s: points out of order", s.Key)
			}
			m[p.TimeMillis] = p.Counters
		}
		got[s.Key] = m
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if !slices.IsSorted(order) || len(order) != len(w.cells) {
		t.Fatalf("%s: %d keys (sorted %v), want %d", label, len(order), slices.IsSorted(order), len(w.cells))
	}
	for k, m := range w.cells {
		for ts, c := range m {
			if got[k][ts] != c {
				t.Fatalf("%s: key %s ts %d: got %+v want %+v", label, k, ts, got[k][ts], c)
			}
		}
		if len(got[k]) != len(m) {
			t.Fatalf("%s: key %s: %d points want %d", label, k, len(got[k]), len(m))
		}
	}
	for i, st := range w.stats {
		g := res.Files[i]
		g.MinTime, g.MaxTime = 0, 0
		if !reflect.DeepEqual(g, st) {
			t.Fatalf("%s: file stats\n got %+v\nwant %+v", label, g, st)
		}
	}
	if !slices.Equal(res.Samples, w.samples) {
		t.Fatalf("%s: samples\n got %+v\nwant %+v", label, res.Samples, w.samples)
	}
}

func writeInputs(t *testing.T, rng *rand.Rand, dir string) []string {
	t.Helper()
	var paths []string
	for i := range 5 {
		data := randomLog(rng, 50+rng.IntN(700))
		path := filepath.Join(dir, fmt.Sprintf("in%d.log", i))
		var out bytes.Buffer
		switch i % 3 {
		case 1:
			zw := gzip.NewWriter(&out)
			zw.Write(data)
			zw.Close()
		case 2:
			zw, _ := zstd.NewWriter(&out)
			zw.Write(data)
			zw.Close()
		default:
			out.Write(data)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func baseConfig() Config {
	return Config{
		NewParser:      func() parse.LineParser { return parse.NewCombined() },
		KeySources:     []string{"query:api_key"},
		MaxLineBytes:   300,
		ThrottleStatus: []int{429},
		MaxSamples:     7,
	}
}

// TestRunIdenticalForEverySplit is the pipeline's property: the result is
// the reference's for every worker count, block size, file order and
// memory budget (spilling or not), and spilled runs are removed.
func TestRunIdenticalForEverySplit(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 42))
		dir := t.TempDir()
		paths := writeInputs(t, rng, dir)
		for _, tc := range []struct {
			workers, block int
			memory         int64
		}{
			{1, 0, 0}, {8, 16, 0}, {8, 1, 0}, {3, 4096, 1}, {1, 1024, 1}, {8, 2048, 1 << 10}, {2, 0, 1},
		} {
			order := slices.Clone(paths)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			cfg := baseConfig()
			cfg.Workers, cfg.BlockBytes, cfg.MemoryBytes = tc.workers, tc.block, tc.memory
			cfg.TmpDir = t.TempDir()
			label := fmt.Sprintf("seed %d %+v", seed, tc)
			res, err := Run(context.Background(), order, cfg)
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			ref := reference(t, order, cfg)
			check(t, label, res, ref)
			check(t, label+" (read again)", res, ref) // Source is re-readable
			if tc.memory > 0 && res.Spills == 0 {
				t.Fatalf("%s: a %d-byte budget did not spill", label, tc.memory)
			}
			if tc.memory == 0 && res.Spills != 0 {
				t.Fatalf("%s: unbounded run spilled", label)
			}
			if err := res.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(cfg.TmpDir); len(left) != 0 {
				t.Fatalf("%s: %d entries left in tmp dir", label, len(left))
			}
		}
	}
}

// TestRunRemovesSpillsOnError: a corrupt input after spills have happened
// fails the run and leaves nothing in the temporary directory.
func TestRunRemovesSpillsOnError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	dir := t.TempDir()
	paths := writeInputs(t, rng, dir)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(randomLog(rng, 3000))
	zw.Close()
	corrupt := gz.Bytes()[:gz.Len()*2/3]
	bad := filepath.Join(dir, "corrupt.gz")
	os.WriteFile(bad, corrupt, 0o644)
	cfg := baseConfig()
	cfg.Workers, cfg.BlockBytes, cfg.MemoryBytes, cfg.TmpDir = 1, 64, 1, t.TempDir()
	_, err := Run(context.Background(), append(paths, bad), cfg)
	if err == nil || !strings.Contains(err.Error(), "corrupt.gz") {
		t.Fatalf("want an error naming corrupt.gz, got %v", err)
	}
	if left, _ := os.ReadDir(cfg.TmpDir); len(left) != 0 {
		t.Fatalf("%d entries left in tmp dir after error", len(left))
	}
}

func TestRunMissingFileNamed(t *testing.T) {
	cfg := baseConfig()
	cfg.Workers = 4
	_, err := Run(context.Background(), []string{filepath.Join(t.TempDir(), "nope.log")}, cfg)
	if err == nil || !strings.Contains(err.Error(), "nope.log") {
		t.Fatalf("got %v", err)
	}
}

// TestRecyclerHandsBackInBatchesAndBeforeWaiting checks the two rules of a
// worker's buffers: they go back recycleBatch at a time, and all of them
// before the worker waits for a block (else a reader waiting for a buffer
// and a worker waiting for a block would wait for each other).
func TestRecyclerHandsBackInBatchesAndBeforeWaiting(t *testing.T) {
	blocks := make(chan *block, 2*recycleBatch)
	free := make(chan []byte, 2*recycleBatch)
	rc := recycler{blocks: blocks, free: free}
	for i := range recycleBatch + 1 {
		blocks <- &block{buf: make([]byte, 1, 8)}
		b, ok := rc.next()
		if !ok {
			t.Fatal("next: blocks closed")
		}
		rc.done(b)
		if want := (i + 1) / recycleBatch * recycleBatch; len(free) != want {
			t.Fatalf("after %d blocks: %d buffers handed back, want %d", i+1, len(free), want)
		}
	}
	rc.done(&block{tooLong: true}) // a block without a buffer holds nothing
	if len(rc.held) != 1 {
		t.Fatalf("holding %d buffers, want 1", len(rc.held))
	}
	for range recycleBatch {
		if buf := <-free; len(buf) != 0 || cap(buf) != 8 {
			t.Fatalf("handed back len %d cap %d, want the buffer emptied", len(buf), cap(buf))
		}
	}

	// With no block waiting, next hands the held buffer back first: a
	// reader can fill the block next waits for.
	got := make(chan bool)
	go func() {
		b, ok := rc.next()
		got <- ok && b != nil
	}()
	var buf []byte
	select {
	case buf = <-free:
	case <-time.After(10 * time.Second): // a deadlock, not a slow machine
		t.Fatal("next waits for a block while holding a buffer")
	}
	blocks <- &block{buf: buf}
	if !<-got {
		t.Fatal("next did not return the block sent after the flush")
	}
	close(blocks)
	if _, ok := rc.next(); ok {
		t.Fatal("next returned a block from a closed channel")
	}
}
