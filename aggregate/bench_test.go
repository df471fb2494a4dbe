package aggregate

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// benchKeys is 5,000 keys shaped like keyrate-gen's.
func benchKeys() [][]byte {
	keys := make([][]byte, 5000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%016x", uint64(i)*0x9E3779B97F4A7C15)
	}
	return keys
}

// BenchmarkStateAdd measures the per-line aggregation cost with a
// realistic working set: 5000 keys, times advancing one second every
// 2000 lines. Bytes are those of a typical 160-byte log line, so MB/s is
// comparable with the parser benchmarks.
func BenchmarkStateAdd(b *testing.B) {
	benchAdd(b, func(i int) int64 { return 1_700_000_000_000 + int64(i/2000)*1000 })
}

// BenchmarkStateAddInterleaved is BenchmarkStateAdd over 16 logs of the
// same hours (16 servers, read together as parse workers read a night's
// archive): each key's times jump back and forth, so new cells go
// through the cell index.
func BenchmarkStateAddInterleaved(b *testing.B) {
	benchAdd(b, func(i int) int64 {
		server, n := i%16, i/16
		return 1_700_000_000_000 + int64(n/125)*1000 + int64(server)*37_000
	})
}

// BenchmarkStateAddServerBlocks is the same 16 servers' logs as a parse
// worker receives them: in blocks of 1,600 lines (256 KiB), each block one
// server's, the servers taking turns, with NewStream at each block. Keys'
// times jump back at each block's start but move forward within it.
func BenchmarkStateAddServerBlocks(b *testing.B) {
	const block = 1_600
	benchAddStreams(b, func(i int) int64 {
		blk, in := i/block, i%block
		server, round := blk%16, blk/16
		n := round*block + in // the line's index in its server's log
		return 1_700_000_000_000 + int64(n/125)*1000 + int64(server)*37_000
	}, block)
}

// BenchmarkStateAddStartStamped is BenchmarkStateAdd for a log stamped
// with each request's start but written as requests end (Apache's %t):
// one line in four is up to 3 s older than the line before. Blocks of
// 1,600 lines (256 KiB) are streams, as a parse worker reads them.
func BenchmarkStateAddStartStamped(b *testing.B) {
	benchAddStreams(b, func(i int) int64 {
		ts := 1_700_000_000_000 + int64(i/2000)*1000
		if h := uint64(i) * 0x9E3779B97F4A7C15 >> 32; h%4 == 0 {
			ts -= int64(h>>2%4) * 1000
		}
		return ts
	}, 1_600)
}

// benchAdd adds line i at time timeOf(i) for one of benchKeys' keys, into
// a fresh State every 2M lines so that the working set stays a night's.
func benchAdd(b *testing.B, timeOf func(i int) int64) { benchAddStreams(b, timeOf, 0) }

// benchAddStreams is benchAdd that calls NewStream every block lines (0:
// never).
func benchAddStreams(b *testing.B, timeOf func(i int) int64, block int) {
	keys := benchKeys()
	st := NewState()
	var o Observation
	b.SetBytes(160)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2_000_000 == 0 && i > 0 {
			st = NewState()
		}
		if block > 0 && i%block == 0 {
			st.NewStream()
		}
		o = Observation{TimeMillis: timeOf(i), Status: 200, Bytes: 100}
		st.Add(keys[(i*7919)%len(keys)], &o)
	}
}

// BenchmarkStateEach reads back a million cells (about 32 MB, well past
// the caches, as after a real night's ingest) of 5,000 keys whose lines
// interleave at random, as clients' requests do, so each key's cells are
// scattered through the chunks with no stride a prefetcher could follow.
func BenchmarkStateEach(b *testing.B) {
	st := NewState()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1_000_000 {
		st.Add(fmt.Appendf(nil, "k%d", rng.IntN(5000)), &Observation{TimeMillis: int64(i / 100 * 1000)})
	}
	b.ReportAllocs()
	for b.Loop() {
		c, _ := st.Open()
		if err := discard(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateSort sorts BenchmarkStateEach's million cells for
// reading back, as every run's evaluation first does, in one part and
// in as many as sortedCells cuts them into on this machine.
func BenchmarkStateSort(b *testing.B) {
	st := NewState()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1_000_000 {
		st.Add(fmt.Appendf(nil, "k%d", rng.IntN(5000)), &Observation{TimeMillis: int64(i / 100 * 1000)})
	}
	for _, n := range []int{1, sortParts(st.Cells(), st.Keys())} {
		b.Run(fmt.Sprintf("parts=%d", n), func(b *testing.B) {
			for b.Loop() {
				st.sortedCellsIn(n)
			}
		})
	}
}

// discard reads c to the end, as an evaluation does: each series into
// the same buffer.
func discard(c Cursor) error {
	defer c.Close()
	var buf []Point
	for {
		_, points, err := c.Next(buf[:0])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		buf = points
	}
}

// seriesCursor replays fixed series, as a prefetched input hands them out.
type seriesCursor struct {
	series []Series
	i      int
}

func (c *seriesCursor) Next(dst []Point) (string, []Point, error) {
	if c.i == len(c.series) {
		return "", dst, io.EOF
	}
	c.i++
	s := &c.series[c.i-1]
	return s.Key, append(dst, s.Points...), nil
}

func (c *seriesCursor) Close() {}

// BenchmarkMerge merges k inputs that each hold every one of 1,000 keys
// (as the States of k parse workers, or k spilled runs, do) with 200,000
// points in all, every input's times interleaved with the others'.
func BenchmarkMerge(b *testing.B) {
	for _, k := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			inputs := make([][]Series, k)
			perKey := 200_000 / 1000 / k
			for in := range inputs {
				for key := range 1000 {
					s := Series{Key: fmt.Sprintf("k%04d", key)}
					for p := range perKey {
						s.Points = append(s.Points, Point{TimeMillis: int64((p*k + in) * 1000), Counters: Counters{Requests: 1}})
					}
					inputs[in] = append(inputs[in], s)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				cursors := make([]Cursor, k)
				for i := range cursors {
					cursors[i] = &seriesCursor{series: inputs[i]}
				}
				if err := discard(NewMerge(cursors...)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*200_000), "ns/point")
		})
	}
}

// BenchmarkParquet writes and reads back a partials file of a busy day's
// shape: 5,000 keys, a point a second each over 40 seconds (200,000
// rows), ns per row.
func BenchmarkParquet(b *testing.B) {
	st := NewState()
	keys := benchKeys()
	for i := range 200_000 {
		st.Add(keys[i%len(keys)], &Observation{TimeMillis: 1_700_000_000_000 + int64(i/len(keys))*1000, Status: 200, Bytes: 100})
	}
	var file bytes.Buffer
	c, _ := st.Open()
	if _, err := WriteParquet(&file, c, "", nil); err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			file.Reset()
			c, _ := st.Open()
			if _, err := WriteParquet(&file, c, "", nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200_000, "ns/row")
		b.ReportMetric(float64(file.Len())/200_000, "bytes/row")
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, _, err := OpenParquet(bytes.NewReader(file.Bytes()), int64(file.Len()))
			if err != nil {
				b.Fatal(err)
			}
			if err := discard(c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200_000, "ns/row")
	})
}

// manyKeys is a million lines' keys among n keys shaped like
// keyrate-gen's ("k" and 16 hex digits), drawn with its Zipf popularity
// (s = 1.1, v = 4) and interleaved at random: at 256k keys about 110k of
// them appear, as in `keyrate-gen --keys 256000`. The lines' keys lie
// back to back, as in the blocks a parser reads, so reading them costs
// what reading a log does, not a cache miss each.
func manyKeys(n int) [][]byte {
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 4, uint64(n-1))
	var buf []byte
	ends := make([]int, 1_000_000)
	for i := range ends {
		buf = fmt.Appendf(buf, "k%016x", zipf.Uint64()*0x9E3779B97F4A7C15)
		ends[i] = len(buf)
	}
	lines := make([][]byte, len(ends))
	start := 0
	for i, end := range ends {
		lines[i] = buf[start:end:end]
		start = end
	}
	return lines
}

// BenchmarkStateAddManyKeys is BenchmarkStateAdd with 256k keys drawn as
// keyrate-gen draws them, a fresh State every million lines: most lines'
// key lookups miss the caches (the key table and arena outgrow them),
// and the table and arena grow from empty as they would.
func BenchmarkStateAddManyKeys(b *testing.B) {
	lines := manyKeys(256_000)
	st := NewState()
	var o Observation
	b.SetBytes(160)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % len(lines)
		if j == 0 && i > 0 {
			st = NewState()
		}
		o = Observation{TimeMillis: 1_700_000_000_000 + int64(j/2000)*1000, Status: 200, Bytes: 100}
		st.Add(lines[j], &o)
	}
}

// BenchmarkStateEachManyKeys sorts and reads back the State of a million
// lines over 256k keys (BenchmarkStateAddManyKeys's), each time afresh as
// a pipeline's first read of a State does: ranking the ~110k keys is
// then a large part of the cost.
func BenchmarkStateEachManyKeys(b *testing.B) {
	st := NewState()
	for i, k := range manyKeys(256_000) {
		st.Add(k, &Observation{TimeMillis: 1_700_000_000_000 + int64(i/2000)*1000})
	}
	ids := make([]uint32, st.Keys())
	b.Run("rank/compare", func(b *testing.B) { // the ranking sortIDs replaced
		b.ReportAllocs()
		for b.Loop() {
			for i := range ids {
				ids[i] = uint32(i)
			}
			slices.SortFunc(ids, func(a, b uint32) int { return bytes.Compare(st.key(a), st.key(b)) })
		}
	})
	b.Run("rank/chunks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range ids {
				ids[i] = uint32(i)
			}
			st.keys.sortIDs(ids)
		}
	})
	b.Run("sort", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st.sortedCells()
		}
	})
	b.Run("each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			st.sorted = nil // as a State's first read
			c, _ := st.Open()
			if err := discard(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
