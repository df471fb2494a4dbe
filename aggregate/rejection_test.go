package aggregate

import (
	"math/rand/v2"
	"testing"
)

// TestCountsBeyondRequestsMatchReference: counters read back from
// elsewhere may break the compact cell's "every count <= Requests"
// invariant (a difference of partials, a hand-made file); whatever mix
// of Add, such AddCounters, Merge, spill to a run and read back, the
// counters must equal a plain map's.
func TestCountsBeyondRequestsMatchReference(t *testing.T) {
	type ck struct {
		key string
		ts  int64
	}
	rng := rand.New(rand.NewPCG(7, 8))
	ref := map[ck]Counters{}
	a, b := NewState(), NewState()
	for i := range 5000 {
		st := a
		if i%3 == 0 {
			st = b
		}
		k := ck{string(rune('a' + rng.IntN(5))), int64(rng.IntN(40)) * 1000}
		c := ref[k]
		if rng.IntN(3) == 0 {
			st.AddCounters(k.key, k.ts, &Counters{Rejected: 1})
			c.Rejected++
		} else {
			o := Observation{TimeMillis: k.ts, Status: []int{200, 429, 503}[rng.IntN(3)], Bytes: 10, Rejected: rng.IntN(2) == 0}
			st.Add([]byte(k.key), &o)
			c.observe(&o)
		}
		ref[k] = c
	}
	a.Merge(b)
	got := map[ck]Counters{}
	for _, s := range collect(t, a) {
		for _, p := range s.Points {
			got[ck{s.Key, p.TimeMillis}] = p.Counters
		}
	}
	if len(got) != len(ref) {
		t.Fatalf("%d cells, want %d", len(got), len(ref))
	}
	for k, want := range ref {
		if got[k] != want {
			t.Fatalf("%v: %+v, want %+v", k, got[k], want)
		}
	}
}
