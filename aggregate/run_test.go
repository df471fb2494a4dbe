package aggregate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// randomPartial is a random partial aggregate: keys of any bytes (the
// empty key, prefixes of others, invalid UTF-8), times before and after
// 1970, and counters from 0 to past what a compact cell holds.
func randomPartial(rng *rand.Rand, cells int) reference {
	keys := []string{"", "a", "ab", "b", "k_0001", "\xff\x00", "é"}
	for range 20 {
		keys = append(keys, fmt.Sprintf("key-%d", rng.IntN(1000)))
	}
	ref := reference{}
	for range cells {
		c := refCell{keys[rng.IntN(len(keys))], rng.Int64N(1 << 40)}
		if rng.IntN(8) == 0 {
			c.ts = -c.ts
		}
		n := func() int64 {
			if rng.IntN(50) == 0 {
				return rng.Int64N(1 << 40)
			}
			return rng.Int64N(100)
		}
		sum := ref[c]
		sum.Add(&Counters{Requests: n(), Status2xx: n(), Status3xx: n(), Status4xx: n(), Status5xx: n(),
			Status429: n(), Rejected: n(), BytesSent: n()})
		ref[c] = sum
	}
	return ref
}

// split spreads ref's cells over k States at random, a cell's counters
// sometimes cut in two (so States hold the same cell, as workers do).
func split(rng *rand.Rand, ref reference, k int) []*State {
	states := make([]*State, k)
	for i := range states {
		states[i] = NewState()
	}
	for c, sum := range ref {
		st := states[rng.IntN(k)]
		if rng.IntN(3) == 0 && sum.Requests > 1 {
			half := Counters{Requests: sum.Requests / 2}
			rest := sum
			rest.Requests -= half.Requests
			states[rng.IntN(k)].AddCounters(c.key, c.ts, &half)
			st.AddCounters(c.key, c.ts, &rest)
			continue
		}
		st.AddCounters(c.key, c.ts, &sum)
	}
	return states
}

// writeRun writes what c yields as a run and closes c.
func writeRun(t *testing.T, c Cursor) []byte {
	t.Helper()
	defer c.Close()
	var buf bytes.Buffer
	if _, err := WriteRun(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readRun(t *testing.T, run []byte) Cursor {
	t.Helper()
	rr, err := NewRunReader(bytes.NewReader(run))
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestRunRoundTripProperty: random partials written as runs and read
// back equal what was written, and any way of merging them (runs with
// runs, runs with States, runs of merged runs, runs added into a State)
// gives the partial aggregate of all their cells.
func TestRunRoundTripProperty(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 17))
		ref := randomPartial(rng, 1+rng.IntN(3000))
		want := ref.series()
		k := 1 + rng.IntN(6)
		states := split(rng, ref, k)
		runs := make([][]byte, k)
		for i, st := range states {
			runs[i] = writeRun(t, open(t, st))
			equalSeries(t, drain(t, readRun(t, runs[i])), collect(t, st))
		}
		runCursors := func() []Cursor {
			var cs []Cursor
			for _, r := range runs {
				cs = append(cs, readRun(t, r))
			}
			return cs
		}
		// All runs at once.
		equalSeries(t, drain(t, NewMerge(runCursors()...)), want)
		// Half runs, half States.
		var mixed []Cursor
		for i := range k {
			if i%2 == 0 {
				mixed = append(mixed, readRun(t, runs[i]))
			} else {
				mixed = append(mixed, open(t, states[i]))
			}
		}
		equalSeries(t, drain(t, NewMerge(mixed...)), want)
		// A tree: runs merged pairwise into new runs until one is left.
		level := runs
		for len(level) > 1 {
			var next [][]byte
			for i := 0; i < len(level); i += 2 {
				if i+1 == len(level) {
					next = append(next, level[i])
					continue
				}
				next = append(next, writeRun(t, NewMerge(readRun(t, level[i]), readRun(t, level[i+1]))))
			}
			level = next
		}
		equalSeries(t, drain(t, readRun(t, level[0])), want)
		// Every run added into one State.
		sum := NewState()
		for _, c := range runCursors() {
			for _, s := range drain(t, c) {
				for i := range s.Points {
					sum.AddCounters(s.Key, s.Points[i].TimeMillis, &s.Points[i].Counters)
				}
			}
		}
		equalSeries(t, collect(t, sum), want)
	}
}

// runPayload is a run's bytes inside its zstd stream.
func runPayload(t testing.TB, run []byte) []byte {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(run, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compressRun wraps a payload in a zstd stream, as WriteRun does.
func compressRun(t testing.TB, payload []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(payload, nil)
}

func TestRunVersions(t *testing.T) {
	st := NewState()
	st.Add([]byte("k"), &Observation{TimeMillis: 1000, Status: 200})
	payload := runPayload(t, writeRun(t, open(t, st)))
	if !bytes.HasPrefix(payload, []byte("keyrate-run\x00v1\n")) {
		t.Fatalf("header %q, want keyrate-run\\x00v1\\n", payload[:15])
	}
	for _, c := range []struct {
		header string
		want   error
	}{
		{"keyrate-run\x00v2\n", ErrRunVersion},
		{"keyrate-run\x00v10\n", ErrRunVersion},
		{"keyrate-run\x00v01\n", ErrRunVersion},
		{"keyrate-run\x00v\n", ErrBadRun},
		{"keyrate-run\x00vx\n", ErrBadRun},
		{"keyrate-run\x00v1", ErrBadRun},
		{"keyrate-run\x00v1234567890\n", ErrBadRun},
		{"keyrate-RUN\x00v1\n", ErrBadRun},
	} {
		run := compressRun(t, append([]byte(c.header), payload[15:]...))
		_, err := NewRunReader(bytes.NewReader(run))
		if !errors.Is(err, c.want) {
			t.Errorf("header %q: %v, want %v", c.header, err, c.want)
		}
	}
}

// FuzzRunReader feeds a hostile run (its payload, compressed here so that
// the fuzzer works on the format rather than on zstd framing) to the
// reader: it must fail with ErrBadRun or ErrRunVersion, never panic, and
// allocate in proportion to the input; a run it accepts must survive
// being written and read again.
func FuzzRunReader(f *testing.F) {
	st := NewState()
	for i := range 50 {
		st.Add(fmt.Appendf(nil, "k%d", i%7), &Observation{TimeMillis: int64(i * 997), Status: 200 + i%4*100, Bytes: int64(i)})
	}
	var buf bytes.Buffer
	c, _ := st.Open()
	if _, err := WriteRun(&buf, c); err != nil {
		f.Fatal(err)
	}
	f.Add(runPayload(f, buf.Bytes()))
	buf.Reset()
	if _, err := WriteRun(&buf, NewMerge()); err != nil {
		f.Fatal(err)
	}
	f.Add(runPayload(f, buf.Bytes()))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := readAll(bytes.NewReader(compressRun(t, payload)))
		runtime.ReadMemStats(&after)
		// The decoder's buffers, the 1 MiB key bound, and the points:
		// 72 bytes each, decoded from at least 9 bytes each.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20+uint64(64*len(payload)) {
			t.Fatalf("read %d bytes of run with %d MiB of allocations", len(payload), grew>>20)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRun) && !errors.Is(err, ErrRunVersion) {
				t.Fatalf("error %v is neither ErrBadRun nor ErrRunVersion", err)
			}
			return
		}
		var again bytes.Buffer
		if _, err := WriteRun(&again, &seriesCursor{series: got}); err != nil {
			t.Fatal(err)
		}
		reread, err := readAll(&again)
		if err != nil {
			t.Fatalf("a run written from an accepted one does not read: %v", err)
		}
		if len(reread) != len(got) {
			t.Fatalf("%d series read again, %d at first", len(reread), len(got))
		}
		for i := range got {
			if reread[i].Key != got[i].Key || !slices.Equal(reread[i].Points, got[i].Points) {
				t.Fatalf("series %d changed in a second round trip", i)
			}
		}
	})
}

// readAll reads a whole run.
func readAll(r io.Reader) ([]Series, error) {
	rr, err := NewRunReader(r)
	if err != nil {
		return nil, err
	}
	return readSeries(rr)
}

// readSeries reads every series of c, checking that it keeps the
// Cursor contract, and closes c.
func readSeries(c Cursor) ([]Series, error) {
	defer c.Close()
	var out []Series
	for {
		key, points, err := c.Next(nil)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(points) == 0 {
			return nil, fmt.Errorf("key %q without points", key)
		}
		for i := 1; i < len(points); i++ {
			if points[i].TimeMillis <= points[i-1].TimeMillis {
				return nil, fmt.Errorf("key %q: times out of order", key)
			}
		}
		if n := len(out); n > 0 && out[n-1].Key >= key {
			return nil, fmt.Errorf("keys out of order")
		}
		out = append(out, Series{Key: key, Points: points})
	}
}

// TestRunKeyLengthLimit: the writer and the reader of runs share one
// limit, so every run written reads back: a key at MaxKeyBytes round
// trips, a longer one is refused when written (it failed only when read
// back, after the whole run), and a length over it is a bad run when
// read.
func TestRunKeyLengthLimit(t *testing.T) {
	at := strings.Repeat("k", MaxKeyBytes)
	st := NewState()
	st.Add([]byte(at), &Observation{TimeMillis: 1000, Status: 200})
	st.Add([]byte("short"), &Observation{TimeMillis: 1000, Status: 200})
	var buf bytes.Buffer
	if _, err := WriteRun(&buf, open(t, st)); err != nil {
		t.Fatalf("writing a key of MaxKeyBytes: %v", err)
	}
	rr, err := NewRunReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, NewMerge(rr))
	if len(got) != 2 || got[0].Key != at || got[1].Key != "short" {
		t.Fatalf("read back %d series", len(got))
	}

	over := NewState()
	over.Add([]byte(at+"x"), &Observation{TimeMillis: 1000, Status: 200})
	if _, err := WriteRun(&bytes.Buffer{}, open(t, over)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("writing a key over MaxKeyBytes: %v, want an error", err)
	}
	// A run claiming a longer key (written by hand) is refused on read.
	var raw bytes.Buffer
	zw, _ := zstd.NewWriter(&raw)
	zw.Write([]byte(runHeader))
	zw.Write(binary.AppendUvarint(nil, MaxKeyBytes+2))
	zw.Write([]byte(at + "x"))
	zw.Close()
	rr, err = NewRunReader(bytes.NewReader(raw.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	if _, _, err := rr.Next(nil); !errors.Is(err, ErrBadRun) || !strings.Contains(err.Error(), "key length") {
		t.Fatalf("reading a key over MaxKeyBytes: %v, want ErrBadRun", err)
	}
}
