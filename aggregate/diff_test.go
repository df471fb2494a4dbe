package aggregate

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// nonZero is ref's series without all-zero points (and keys left
// without points): what a difference yields.
func nonZero(ref reference) []Series {
	var out []Series
	for _, s := range ref.series() {
		var pts []Point
		for _, p := range s.Points {
			if !p.IsZero() {
				pts = append(pts, p)
			}
		}
		if len(pts) > 0 {
			out = append(out, Series{Key: s.Key, Points: pts})
		}
	}
	return out
}

// cursors opens every State.
func cursors(t *testing.T, states []*State) []Cursor {
	var cs []Cursor
	for _, st := range states {
		cs = append(cs, open(t, st))
	}
	return cs
}

// TestDiffUndoesMerge is the property a dataset relies on to take an
// input back: for random a and b (split over States, as workers hold
// them), (a+b) - b == a, and a - a is empty.
func TestDiffUndoesMerge(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 23))
		a := randomPartial(rng, rng.IntN(2000))
		b := randomPartial(rng, rng.IntN(2000))
		sa, sb := split(rng, a, 1+rng.IntN(3)), split(rng, b, 1+rng.IntN(3))
		plus := NewMerge(append(cursors(t, sa), cursors(t, sb)...)...)
		equalSeries(t, drain(t, NewDiff(plus, NewMerge(cursors(t, sb)...))), nonZero(a))
		if got := drain(t, NewDiff(NewMerge(cursors(t, sa)...), NewMerge(cursors(t, sa)...))); len(got) != 0 {
			t.Fatalf("seed %d: a - a has %d series", seed, len(got))
		}
	}
}

func TestDiffBelowZeroIsAnError(t *testing.T) {
	one := func(key string, ts int64, c Counters) *State {
		st := NewState()
		st.AddCounters(key, ts, &c)
		return st
	}
	base := one("k", 1000, Counters{Requests: 2, Status2xx: 2, BytesSent: 10})
	for name, minus := range map[string]*State{
		"more requests":     one("k", 1000, Counters{Requests: 3, Status2xx: 2, BytesSent: 10}),
		"another status":    one("k", 1000, Counters{Requests: 1, Status4xx: 1}),
		"a time plus lacks": one("k", 2000, Counters{Requests: 1}),
		"a key plus lacks":  one("j", 1000, Counters{Requests: 1}),
		"a key after":       one("l", 1000, Counters{Requests: 1}),
	} {
		d := NewDiff(open(t, base), open(t, minus))
		var err error
		for err == nil {
			_, _, err = d.Next(nil)
		}
		d.Close()
		if !errors.Is(err, ErrNegative) {
			t.Errorf("%s: %v, want ErrNegative", name, err)
		}
		if errors.Is(err, ErrNegative) && !strings.Contains(err.Error(), "1970-01-01T00:00:0") {
			t.Errorf("%s: %q does not say when", name, err)
		}
	}
	// Subtracting zeros, or what is there, is fine.
	d := NewDiff(open(t, base), open(t, one("k", 1000, Counters{Requests: 1, Status2xx: 1})))
	got := drain(t, d)
	if len(got) != 1 || got[0].Points[0].Counters != (Counters{Requests: 1, Status2xx: 1, BytesSent: 10}) {
		t.Errorf("2 - 1 requests: %+v", got)
	}
	d = NewDiff(open(t, base), open(t, one("a", 5, Counters{})))
	if got := drain(t, d); len(got) != 1 {
		t.Errorf("minus a zero point: %+v", got)
	}
}
