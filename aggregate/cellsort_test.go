package aggregate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkSortedCells checks st's cell sort, cut into several numbers of
// parts, against a brute-force one: the keys in bytes.Compare order,
// each key's group holding exactly its cells, in time order.
func checkSortedCells(t *testing.T, st *State) {
	t.Helper()
	ref := make([]uint32, st.nCells)
	for i := range ref {
		ref[i] = uint32(i)
	}
	slices.SortStableFunc(ref, func(a, b uint32) int {
		ca, cb := st.cell(a), st.cell(b)
		if c := bytes.Compare(st.key(ca.key), st.key(cb.key)); c != 0 {
			return c
		}
		return int(ca.ts - cb.ts)
	})
	for _, n := range []int{1, 2, 3, 8} {
		order, byKey, ends := st.sortedCellsIn(n)
		if len(order) != len(ref) || len(ends) != len(byKey) || len(byKey) != st.Keys() {
			t.Fatalf("%d parts: %d cells, %d groups, %d keys; want %d cells and %d keys", n, len(order), len(ends), len(byKey), len(ref), st.Keys())
		}
		var lo uint32
		for g, id := range byKey {
			got := order[lo:ends[g]]
			want := ref[lo:ends[g]]
			for j, i := range got {
				if st.cell(i).key != id {
					t.Fatalf("%d parts: group %d (%q) holds a cell of key %q", n, g, st.key(id), st.key(st.cell(i).key))
				}
				if st.cell(i).ts != st.cell(want[j]).ts {
					t.Fatalf("%d parts: key %q, cell %d at %d, want time %d", n, st.key(id), j, st.cell(i).ts, st.cell(want[j]).ts)
				}
			}
			if g > 0 && bytes.Compare(st.key(byKey[g-1]), st.key(id)) >= 0 {
				t.Fatalf("%d parts: key %q before %q", n, st.key(byKey[g-1]), st.key(id))
			}
			// Twins (equal times) may come in either order.
			got, want = slices.Clone(got), slices.Clone(want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%d parts: key %q holds other cells than its own", n, st.key(id))
			}
			lo = ends[g]
		}
	}
}

// Two servers' logs of the same hours, read one after the other, each
// in time order: every key's times go back once, where the second
// begins, which is where two parts meet. Only comparing the parts can
// see it.
func TestSortedCellsBackwardsBetweenParts(t *testing.T) {
	st := NewState()
	const perStream = 1 << 16
	for range 2 {
		st.NewStream()
		for i := range perStream {
			st.Add(fmt.Appendf(nil, "key-%03d", i%500), &Observation{TimeMillis: int64(i) * 10})
		}
	}
	if st.Cells() != 2*perStream {
		t.Fatalf("%d cells, want %d", st.Cells(), 2*perStream)
	}
	checkSortedCells(t, st)
}

// Lines at random times, keys and streams, and counters added from
// elsewhere: times go back within parts and between them.
func TestSortedCellsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	st := NewState()
	for i := range 150_000 {
		if i%40_000 == 0 {
			st.NewStream()
		}
		ts := int64(i) * 7
		if rng.IntN(10) == 0 {
			ts = rng.Int64N(int64(i)+1) * 7 // back in time
		}
		st.Add(fmt.Appendf(nil, "k%d", rng.IntN(2_000)), &Observation{TimeMillis: ts})
		if i%997 == 0 {
			st.AddCounters(fmt.Sprintf("k%d", rng.IntN(2_500)), rng.Int64N(2_000_000), &Counters{Requests: 1})
		}
	}
	checkSortedCells(t, st)
}

// A State spilled (Reset) and filled again, with fewer cells or more,
// reads back its new cells only, never the kept sort of the old ones.
func TestSortedAfterReset(t *testing.T) {
	st := NewState()
	rng := rand.New(rand.NewPCG(7, 8))
	for round, cells := range []int{100_000, 60_000, 250_000, 250_000} {
		ref := reference{}
		for i := range cells {
			key := fmt.Sprintf("r%d-k%d", round, rng.IntN(3_000))
			ts := int64(i) * 3
			st.Add([]byte(key), &Observation{TimeMillis: ts, Status: 200, Bytes: int64(round)})
			c := ref[refCell{key, ts}]
			c.Add(&Counters{Requests: 1, Status2xx: 1, BytesSent: int64(round)})
			ref[refCell{key, ts}] = c
		}
		equalSeries(t, collect(t, st), ref.series())
		st.Reset()
	}
}
