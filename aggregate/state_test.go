package aggregate

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refCell is the brute-force reference: a plain map per (key, ts).
type refCell struct {
	key string
	ts  int64
}

type reference map[refCell]Counters

func (r reference) add(key string, o *Observation) {
	c := r[refCell{key, o.TimeMillis}]
	c.observe(o)
	r[refCell{key, o.TimeMillis}] = c
}

// series lists the reference sorted as Each must yield it.
func (r reference) series() []Series {
	cells := make([]refCell, 0, len(r))
	for c := range r {
		cells = append(cells, c)
	}
	slices.SortFunc(cells, func(a, b refCell) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(a.ts - b.ts)
	})
	var out []Series
	for _, c := range cells {
		if len(out) == 0 || out[len(out)-1].Key != c.key {
			out = append(out, Series{Key: c.key})
		}
		s := &out[len(out)-1]
		s.Points = append(s.Points, Point{TimeMillis: c.ts, Counters: r[c]})
	}
	return out
}

// open opens p for reading.
func open(t *testing.T, p Partials) Cursor {
	t.Helper()
	c, err := p.Open()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drain reads every series of c, each into a buffer of its own, and
// closes c.
func drain(t *testing.T, c Cursor) []Series {
	t.Helper()
	defer c.Close()
	var out []Series
	for {
		key, points, err := c.Next(nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Series{Key: key, Points: points})
	}
}

// collect reads every series of p.
func collect(t *testing.T, p Partials) []Series { return drain(t, open(t, p)) }

func equalSeries(t *testing.T, got, want []Series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || !slices.Equal(got[i].Points, want[i].Points) {
			t.Fatalf("series %d: got %q %v, want %q %v", i, got[i].Key, got[i].Points, want[i].Key, want[i].Points)
		}
	}
}

// randomStateObs draws observations over a skewed key set (including keys that
// are prefixes of others and arbitrary bytes) and a narrow time range, so
// cells repeat often.
func randomStateObs(rng *rand.Rand, nKeys int) (string, Observation) {
	k := int(rng.ExpFloat64()*float64(nKeys)/4) % nKeys
	key := fmt.Sprintf("k%d", k)
	if k%7 == 0 {
		key = key[:len(key)-1] + "\x00\xff"
	}
	statuses := []int{200, 201, 301, 404, 429, 500, 503, 99}
	st := statuses[rng.IntN(len(statuses))]
	return key, Observation{
		TimeMillis: 1_700_000_000_000 + int64(rng.IntN(300))*1000 - int64(rng.IntN(2))*5_000_000_000,
		Status:     st, Bytes: rng.Int64N(5000), Rejected: st == 429 || rng.IntN(50) == 0,
	}
}

func TestStateMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		nKeys := 1 + rng.IntN(2000)
		ref := reference{}
		st := NewState()
		for range rng.IntN(20000) {
			key, o := randomStateObs(rng, nKeys)
			ref.add(key, &o)
			st.Add([]byte(key), &o)
		}
		want := ref.series()
		equalSeries(t, collect(t, st), want)
		if st.Keys() != len(want) || st.Cells() != len(ref) {
			t.Fatalf("seed %d: Keys %d Cells %d, want %d %d", seed, st.Keys(), st.Cells(), len(want), len(ref))
		}
	}
}

func TestStateMergeAndResetMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	ref := reference{}
	parts := []*State{NewState(), NewState(), NewState()}
	for range 30000 {
		key, o := randomStateObs(rng, 500)
		ref.add(key, &o)
		parts[rng.IntN(len(parts))].Add([]byte(key), &o)
	}
	merged := NewState()
	for _, p := range parts {
		merged.Merge(p)
	}
	equalSeries(t, collect(t, merged), ref.series())
	// AddCounters of every point rebuilds the same state.
	again := NewState()
	for _, s := range collect(t, merged) {
		for _, p := range s.Points {
			again.AddCounters(s.Key, p.TimeMillis, &p.Counters)
		}
	}
	equalSeries(t, collect(t, again), ref.series())
	// A reset state is empty and refills correctly.
	merged.Reset()
	if merged.Keys() != 0 || merged.Cells() != 0 || len(collect(t, merged)) != 0 {
		t.Fatal("Reset left data behind")
	}
	merged.Merge(again)
	equalSeries(t, collect(t, merged), ref.series())
}

func TestStateAddExistingCellDoesNotAllocate(t *testing.T) {
	st := NewState()
	key := []byte("api-key-0123456789")
	o := Observation{TimeMillis: 1_700_000_000_000, Status: 200, Bytes: 10}
	st.Add(key, &o)
	if n := testing.AllocsPerRun(1000, func() { st.Add(key, &o) }); n != 0 {
		t.Fatalf("Add on an existing cell: %v allocs, want 0", n)
	}
	if st.Cells() != 1 {
		t.Fatalf("Cells = %d", st.Cells())
	}
}

func TestApproxBytesGrowsWithCells(t *testing.T) {
	st := NewState()
	empty := st.ApproxBytes()
	for i := range 100000 {
		st.Add([]byte{byte(i % 50)}, &Observation{TimeMillis: int64(i)})
	}
	got := st.ApproxBytes()
	// At least the 32-byte cells themselves, and not wildly more than
	// the layout's ~45 bytes per cell including slack.
	if got <= empty || got < 100000*32 || got > 100000*90 {
		t.Fatalf("ApproxBytes = %d for 100000 cells", got)
	}
	// After Reset (a spill) the State measures only new contents, or a
	// budget check would spill again after every block.
	st.Reset()
	if after := st.ApproxBytes(); after != empty {
		t.Fatalf("ApproxBytes after Reset = %d, want %d", after, empty)
	}
	st.Add([]byte("k"), &Observation{TimeMillis: 1})
	if one := st.ApproxBytes(); one > 1<<20 {
		t.Fatalf("ApproxBytes with one cell after Reset = %d", one)
	}
}

func TestMergeCursorsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	// Merges pair lists round by round: odd counts carry a list over,
	// sometimes for several rounds.
	for _, k := range []int{1, 2, 3, 5, 6, 7, 16, 33} {
		ref := reference{}
		var cursors []Cursor
		for range k {
			st := NewState()
			for range rng.IntN(20000 / k) {
				key, o := randomStateObs(rng, 300)
				ref.add(key, &o)
				st.Add([]byte(key), &o)
			}
			cursors = append(cursors, open(t, st))
		}
		equalSeries(t, drain(t, NewMerge(cursors...)), ref.series())
	}
	if len(drain(t, NewMerge())) != 0 {
		t.Fatal("empty merge yielded series")
	}
}

func TestRunRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	ref := reference{}
	st := NewState()
	for range 20000 {
		key, o := randomStateObs(rng, 1000)
		ref.add(key, &o)
		st.Add([]byte(key), &o)
	}
	var buf bytes.Buffer
	stats, err := WriteRun(&buf, open(t, st))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Keys != int64(st.Keys()) || stats.Points != int64(st.Cells()) {
		t.Fatalf("stats %+v, state has %d keys %d cells", stats, st.Keys(), st.Cells())
	}
	rr, err := NewRunReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	equalSeries(t, drain(t, NewMerge(rr)), ref.series())

	// A truncated run is an error, never a silently shorter result.
	for _, cut := range []int{0, 10, buf.Len() / 2, buf.Len() - 3} {
		rr, err := NewRunReader(bytes.NewReader(buf.Bytes()[:cut]))
		if err == nil {
			for err == nil {
				_, _, err = rr.Next(nil)
			}
			rr.Close()
			if err == io.EOF {
				err = nil
			}
		}
		if err == nil {
			t.Fatalf("run cut at %d of %d read without error", cut, buf.Len())
		}
	}
}

// TestStateTimeOrderedThenNot covers both cell modes: appended unindexed
// while every key's times grow, then indexed once a time goes back, and
// again after Reset.
func TestStateTimeOrderedThenNot(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	st := NewState()
	for round := range 3 {
		ref := reference{}
		add := func(key string, ts int64) {
			o := Observation{TimeMillis: ts, Status: 200 + rng.IntN(4)*100, Bytes: 1}
			ref.add(key, &o)
			st.Add([]byte(key), &o)
		}
		for ts := range int64(200) { // time-ordered: several lines per key and second
			for range 1 + rng.IntN(30) {
				add(fmt.Sprintf("k%d", rng.IntN(50)), ts*1000)
			}
		}
		if round > 0 {
			for range 500 { // earlier seconds, some existing, some new
				add(fmt.Sprintf("k%d", rng.IntN(60)), int64(rng.IntN(250))*1000)
			}
			for range 100 { // and forward again
				add(fmt.Sprintf("k%d", rng.IntN(60)), int64(250+rng.IntN(10))*1000)
			}
		}
		equalSeries(t, collect(t, st), ref.series())
		if st.Cells() != len(ref) {
			t.Fatalf("round %d: Cells %d want %d", round, st.Cells(), len(ref))
		}
		st.Reset()
	}
}

// TestStateOverlappingStreams feeds one State blocks of several servers'
// logs of the same minutes, as a parse worker receives them, with
// NewStream at each change of server. Each key's first line of a stream
// goes back in time, so the State holds twins of some cells instead of
// indexing them; every read-back (whole, by key range, a spilled run, a
// Merge) must sum the twins. Some runs go back a little within blocks
// (looked up among the stream's cells: still no twin within a stream),
// others far back (which must build the index over every cell).
func TestStateOverlappingStreams(t *testing.T) {
	const (
		ordered = iota
		nearDisorder
		farDisorder
	)
	for seed := range uint64(18) {
		rng := rand.New(rand.NewPCG(seed, 17))
		mode := int(seed % 3)
		type line struct {
			key string
			ts  int64
		}
		servers := make([][]line, 2+rng.IntN(6))
		for i := range servers {
			ts := int64(1_700_000_000_000)
			for range 500 + rng.IntN(3000) {
				ts += int64(rng.IntN(3)) * 1000 // several lines per second
				servers[i] = append(servers[i], line{fmt.Sprintf("k%d", rng.IntN(40)), ts})
			}
		}
		ref := reference{}
		st := NewState()
		heldAtMost := 0 // the sum over streams of each stream's distinct cells
		var streamCells map[refCell]bool
		last := -1
		for {
			live := []int{}
			for i, s := range servers {
				if len(s) > 0 {
					live = append(live, i)
				}
			}
			if len(live) == 0 {
				break
			}
			i := live[rng.IntN(len(live))]
			n := min(len(servers[i]), 1+rng.IntN(400))
			block := servers[i][:n]
			servers[i] = servers[i][n:]
			switch {
			case mode == nearDisorder && rng.IntN(2) == 0:
				// Lines stamped with their start, logged as they end:
				// shuffled within runs of 20 (up to 40 s back).
				for a := 0; a < len(block); a += 20 {
					run := block[a:min(a+20, len(block))]
					rng.Shuffle(len(run), func(x, y int) { run[x], run[y] = run[y], run[x] })
				}
			case mode == farDisorder && rng.IntN(4) == 0:
				block[rng.IntN(len(block))].ts -= 3_600_000
			}
			if i != last {
				st.NewStream()
				last = i
				heldAtMost += len(streamCells)
				streamCells = map[refCell]bool{}
			}
			for _, l := range block {
				o := Observation{TimeMillis: l.ts, Status: 200 + rng.IntN(4)*100, Bytes: rng.Int64N(100)}
				ref.add(l.key, &o)
				st.Add([]byte(l.key), &o)
				streamCells[refCell{l.key, l.ts}] = true
			}
		}
		heldAtMost += len(streamCells)
		want := ref.series()
		equalSeries(t, collect(t, st), want)
		if mode == farDisorder {
			if !st.indexed {
				t.Fatalf("seed %d: lines an hour back did not build the index", seed)
			}
		} else {
			if st.indexed {
				t.Fatalf("seed %d: streams in (nearly) time order built the index", seed)
			}
			if st.Cells() <= len(ref) || st.Cells() > heldAtMost {
				t.Fatalf("seed %d: %d cells for %d distinct, want twins but at most %d", seed, st.Cells(), len(ref), heldAtMost)
			}
		}

		// Key ranges read back the twins summed too.
		sorted := st.Sorted()
		var ranged []Series
		bounds := append(append([][]byte{nil}, sorted.Splits(4)...), nil)
		for j := 0; j+1 < len(bounds); j++ {
			ranged = append(ranged, drain(t, sorted.Cursor(bounds[j], bounds[j+1]))...)
		}
		equalSeries(t, ranged, want)
		// So do a spilled run and a Merge into another State.
		var buf bytes.Buffer
		if _, err := WriteRun(&buf, open(t, st)); err != nil {
			t.Fatal(err)
		}
		rr, err := NewRunReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		equalSeries(t, drain(t, NewMerge(rr)), want)
		rr.Close()
		merged := NewState()
		merged.Merge(st)
		equalSeries(t, collect(t, merged), want)
		if merged.Cells() != len(ref) {
			t.Fatalf("seed %d: Merge kept %d cells of %d distinct", seed, merged.Cells(), len(ref))
		}
	}
}

// TestStateWideCounters: counts that do not fit a 32-byte cell (huge,
// negative, or a status count above Requests, all possible only through
// AddCounters) move to the wide side table and still add exactly.
func TestStateWideCounters(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	ref := map[refCell]Counters{}
	st := NewState()
	vals := []int64{0, 1, 7, 1 << 31, 1<<32 - 2, 1<<32 - 1, 1 << 32, 1 << 40, -1, -5}
	for i := range 20000 {
		key := fmt.Sprintf("k%d", rng.IntN(20))
		ts := int64(rng.IntN(30)) * 1000
		var c Counters
		if i%3 == 0 {
			c = Counters{Requests: vals[rng.IntN(len(vals))], Status2xx: vals[rng.IntN(len(vals))],
				Status5xx: vals[rng.IntN(len(vals))], Rejected: vals[rng.IntN(len(vals))], BytesSent: vals[rng.IntN(len(vals))]}
			st.AddCounters(key, ts, &c)
		} else {
			o := Observation{TimeMillis: ts, Status: 429, Bytes: 3, Rejected: true}
			c.observe(&o)
			st.Add([]byte(key), &o)
		}
		r := ref[refCell{key, ts}]
		r.Add(&c)
		ref[refCell{key, ts}] = r
	}
	equalSeries(t, collect(t, st), reference(ref).series())
	// A small cell that reaches the uint32 limit through Add goes wide too.
	big := NewState()
	big.AddCounters("k", 0, &Counters{Requests: 1<<32 - 3, Status2xx: 1<<32 - 3})
	for range 5 {
		big.Add([]byte("k"), &Observation{TimeMillis: 0, Status: 200})
	}
	got := collect(t, big)[0].Points[0].Counters
	if got.Requests != 1<<32+2 || got.Status2xx != 1<<32+2 {
		t.Fatalf("counts past uint32: %+v", got)
	}
	// A cell's small counters are uint16 and its byte sum uint32: a busy
	// second (70,000 requests of 100 KB, 7 GB) crosses both limits through
	// Add alone, and then through Merge into another State.
	busy := NewState()
	for i := range 70_000 {
		busy.Add([]byte("k"), &Observation{TimeMillis: 5000, Status: 200 + i%2*229, Bytes: 100_000, Rejected: i%2 == 1})
	}
	want := Counters{Requests: 70_000, Status2xx: 35_000, Status4xx: 35_000, Status429: 35_000, Rejected: 35_000, BytesSent: 7_000_000_000}
	if got := collect(t, busy)[0].Points[0].Counters; got != want {
		t.Fatalf("busy cell: %+v, want %+v", got, want)
	}
	merged := NewState()
	merged.Add([]byte("k"), &Observation{TimeMillis: 5000, Status: 200, Bytes: 1})
	merged.Merge(busy)
	want.Requests, want.Status2xx, want.BytesSent = 70_001, 35_001, 7_000_000_001
	if got := collect(t, merged)[0].Points[0].Counters; got != want {
		t.Fatalf("merged busy cell: %+v, want %+v", got, want)
	}
}

// The key ranges cut by Splits cover every series exactly once, in order,
// and hold about equal numbers of cells.
func TestSortedStateRangesPartitionTheKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 4))
	for _, n := range []int{2, 3, 8, 64, 1000} {
		st := NewState()
		ref := reference{}
		for range 30_000 {
			key, o := randomStateObs(rng, 400)
			ref.add(key, &o)
			st.Add([]byte(key), &o)
		}
		v := st.Sorted()
		splits := v.Splits(n)
		if len(splits) == 0 || len(splits) > n-1 {
			t.Fatalf("n=%d: %d splits", n, len(splits))
		}
		var got []Series
		var rangeCells [][2]int // cells, cells of its biggest key
		for k := 0; k <= len(splits); k++ {
			var lo, hi []byte
			if k > 0 {
				lo = splits[k-1]
			}
			if k < len(splits) {
				hi = splits[k]
				if bytes.Compare(lo, hi) >= 0 {
					t.Fatalf("n=%d: splits not ascending at %d", n, k)
				}
			}
			part := drain(t, v.Cursor(lo, hi))
			for _, s := range part {
				if (lo != nil && s.Key < string(lo)) || (hi != nil && s.Key >= string(hi)) {
					t.Fatalf("n=%d: key %q outside [%q, %q)", n, s.Key, lo, hi)
				}
			}
			got = append(got, part...)
			cells, biggest := 0, 0
			for _, s := range part {
				cells += len(s.Points)
				biggest = max(biggest, len(s.Points))
			}
			rangeCells = append(rangeCells, [2]int{cells, biggest})
		}
		equalSeries(t, got, ref.series())
		// Balanced: no range holds more than its share plus one key.
		total := st.Cells()
		for k, rc := range rangeCells {
			if rc[0] > total/(len(splits)+1)+total/n+rc[1] {
				t.Errorf("n=%d: range %d holds %d of %d cells", n, k, rc[0], total)
			}
		}
	}
	// A range past every key, or between two adjacent keys, is empty.
	st := NewState()
	st.Add([]byte("a"), &Observation{TimeMillis: 1})
	st.Add([]byte("b"), &Observation{TimeMillis: 1})
	if got := drain(t, st.Sorted().Cursor([]byte("c"), nil)); len(got) != 0 {
		t.Fatalf("range after the last key: %v", got)
	}
	if got := drain(t, st.Sorted().Cursor([]byte("a0"), []byte("a1"))); len(got) != 0 {
		t.Fatalf("range between keys: %v", got)
	}
}

func TestStateMergeIsAddition(t *testing.T) {
	a, b := NewState(), NewState()
	o := Observation{TimeMillis: 5000, Status: 200, Bytes: 10}
	a.Add([]byte("k"), &o)
	b.Add([]byte("k"), &o)
	o.TimeMillis = 6000
	b.Add([]byte("j"), &o)
	a.Merge(b)
	if a.Keys() != 2 || a.Cells() != 2 {
		t.Fatalf("keys %d cells %d, want 2 2", a.Keys(), a.Cells())
	}
	var got []string
	for _, s := range collect(t, a) {
		for _, p := range s.Points {
			got = append(got, fmt.Sprintf("%s@%d:%d/%d", s.Key, p.TimeMillis, p.Requests, p.BytesSent))
		}
	}
	if want := []string{"j@6000:1/10", "k@5000:2/20"}; !slices.Equal(got, want) {
		t.Errorf("merged series %v, want %v", got, want)
	}
}

func TestStateAddAllocatesNothingForExistingCells(t *testing.T) {
	s := NewState()
	key := []byte("k_alpha01")
	o := Observation{TimeMillis: 1000, Status: 200}
	s.Add(key, &o)
	if allocs := testing.AllocsPerRun(100, func() { s.Add(key, &o) }); allocs != 0 {
		t.Errorf("Add allocates %.1f times for an existing cell", allocs)
	}
}

// TestSortedIsKeptUntilACellIsAdded: a State opened again without a new
// cell is not sorted again (a dataset's run opens its result once per
// date); a new cell, or Reset, sorts afresh, and counters added to an
// existing cell are read as they are.
func TestSortedIsKeptUntilACellIsAdded(t *testing.T) {
	s := NewState()
	s.Add([]byte("b"), &Observation{TimeMillis: 2000, Status: 200})
	s.Add([]byte("a"), &Observation{TimeMillis: 1000, Status: 200})
	first := s.Sorted()
	if s.Sorted() != first {
		t.Fatal("sorted again with no cell added")
	}
	s.Add([]byte("a"), &Observation{TimeMillis: 1000, Status: 200}) // an existing cell
	if s.Sorted() != first {
		t.Fatal("sorted again after adding to an existing cell")
	}
	s.Add([]byte("a"), &Observation{TimeMillis: 500, Status: 200}) // a new cell, back in time
	got := s.Sorted()
	if got == first {
		t.Fatal("a new cell did not sort again")
	}
	c := got.Cursor(nil, nil)
	defer c.Close()
	key, pts, err := c.Next(nil)
	if err != nil || key != "a" || len(pts) != 2 || pts[0].TimeMillis != 500 || pts[1].Requests != 2 {
		t.Fatalf("first key %q %+v %v, want a at 500 then 1000 with 2 requests", key, pts, err)
	}
	s.Reset()
	s.Add([]byte("z"), &Observation{TimeMillis: 1, Status: 200})
	s.Add([]byte("y"), &Observation{TimeMillis: 1, Status: 200})
	s.Add([]byte("x"), &Observation{TimeMillis: 1, Status: 200})
	// As many cells as before Reset: only Reset tells the sort is stale.
	c2 := s.Sorted().Cursor(nil, nil)
	defer c2.Close()
	if key, _, _ := c2.Next(nil); key != "x" {
		t.Fatalf("after Reset the first key is %q, want x", key)
	}
}
