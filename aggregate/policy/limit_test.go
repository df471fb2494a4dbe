package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// request is one generated log request for the reference implementation.
type request struct {
	key    string
	ts     int64
	status int
	bytes  int64
}

func randomRequests(r *rand.Rand, n int) []request {
	keys := []string{"a", "b", "c", "k_long_key_0001", "é", ""}
	base := int64(1_763_892_000_000) // 2025-11-23T10:00:00Z
	out := make([]request, n)
	for i := range out {
		out[i] = request{
			key: keys[r.IntN(len(keys)-1)], // never the empty key: the pipeline drops it
			// Clustered timestamps make same-millisecond ties and window
			// boundaries common; some before 1970 exercise floor division.
			ts:     base + r.Int64N(600)*1000 + []int64{0, 0, 999, 1}[r.IntN(4)] - r.Int64N(2)*base*2,
			status: []int{200, 204, 301, 404, 429, 500, 503}[r.IntN(7)],
			bytes:  r.Int64N(5000),
		}
	}
	return out
}

// bruteWindows counts requests per (key, limit, window start) the
// obviously correct way.
func bruteWindows(reqs []request, limits []Limit) map[string]int64 {
	out := map[string]int64{}
	for _, q := range reqs {
		for _, l := range limits {
			start := time.UnixMilli(q.ts).UTC().Truncate(time.Duration(l.WindowMillis) * time.Millisecond)
			// time.Truncate works on absolute time since year 1, not the
			// epoch; all test widths divide a day, so they agree.
			out[fmt.Sprintf("%s|%s|%d", q.key, l.Name, start.UnixMilli())] += 1
		}
	}
	return out
}

func mustLimits(t *testing.T, specs ...string) []Limit {
	t.Helper()
	var out []Limit
	for _, s := range specs {
		l, err := ParseLimit(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func analyzeRequests(t *testing.T, reqs []request, limits []Limit, parts int) *RowBuffer {
	t.Helper()
	// Split the requests over several partial states, as workers and
	// files do, then merge.
	states := make([]*aggregate.State, parts)
	for i := range states {
		states[i] = aggregate.NewState()
	}
	for i, q := range reqs {
		o := aggregate.Observation{TimeMillis: q.ts, Status: q.status, Bytes: q.bytes, Rejected: q.status == 429}
		states[i%parts].Add([]byte(q.key), &o)
	}
	for _, s := range states[1:] {
		states[0].Merge(s)
	}
	var sink RowBuffer
	pol := FromLimits(limits)
	pol.AllWindows = true // the brute force counts every window
	if _, err := Evaluate(context.Background(), only(states[0]), pol, Options{}, &sink); err != nil {
		t.Fatal(err)
	}
	return &sink
}

// TestWindowsMatchBruteForce is the property test of issue 4: on random
// streams, window counts equal a brute-force reference, rows are sorted,
// and neither shuffling nor splitting the stream changes any row.
func TestWindowsMatchBruteForce(t *testing.T) {
	limits := mustLimits(t, "3/s", "20/min", "7/10s", "100/h", "500/day")
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		reqs := randomRequests(r, 1+r.IntN(3000))
		got := analyzeRequests(t, reqs, limits, 1)

		want := bruteWindows(reqs, limits)
		if len(got.windows) != len(want) {
			t.Fatalf("seed %d: %d window rows, want %d", seed, len(got.windows), len(want))
		}
		var violations int
		for _, w := range got.windows {
			k := fmt.Sprintf("%s|%s|%d", w.Key, w.LimitName, w.WindowStart.UnixMilli())
			if want[k] != w.Requests {
				t.Fatalf("seed %d: window %s has %d requests, want %d", seed, k, w.Requests, want[k])
			}
			lim := limits[slices.IndexFunc(limits, func(l Limit) bool { return l.Name == w.LimitName })]
			if w.WindowEnd.Sub(w.WindowStart) != time.Duration(lim.WindowMillis)*time.Millisecond {
				t.Fatalf("seed %d: window %s has wrong width", seed, k)
			}
			if w.Requests > lim.Allowed {
				violations++
			}
		}
		// Every violation row is a window this limit refused requests
		// in, so a window over its limit; a window over its limit whose
		// extra requests another limit refused first has none.
		var over int
		for _, v := range got.violations {
			if !(v.Excess > 0 && v.Excess <= v.Requests-v.Allowed) {
				t.Fatalf("seed %d: bad violation %+v", seed, v)
			}
			over++
		}
		if over > violations {
			t.Fatalf("seed %d: %d violation rows, but only %d windows over their limit", seed, over, violations)
		}
		if !slices.IsSortedFunc(got.windows, func(a, b schema.WindowRow) int {
			return cmpRows(a.Key, b.Key, a.LimitName, b.LimitName, a.WindowStart, b.WindowStart)
		}) {
			t.Fatalf("seed %d: window rows not sorted by key, limit_name, window_start", seed)
		}

		r.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
		again := analyzeRequests(t, reqs, limits, 1+r.IntN(5))
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("seed %d: shuffled and split input changed the result", seed)
		}
	}
}

func cmpRows(ka, kb, la, lb string, wa, wb time.Time) int {
	switch {
	case ka != kb:
		return cmpString(ka, kb)
	case la != lb:
		return cmpString(la, lb)
	}
	return wa.Compare(wb)
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestKeyRowsSumEverything(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	reqs := randomRequests(r, 5000)
	got := analyzeRequests(t, reqs, mustLimits(t, "2/s"), 3)
	type sums struct{ n, s2, s3, s4, s5, s429, bytes, first, last int64 }
	want := map[string]*sums{}
	for _, q := range reqs {
		s := want[q.key]
		if s == nil {
			s = &sums{first: q.ts, last: q.ts}
			want[q.key] = s
		}
		s.n++
		s.bytes += q.bytes
		s.first, s.last = min(s.first, q.ts), max(s.last, q.ts)
		switch q.status / 100 {
		case 2:
			s.s2++
		case 3:
			s.s3++
		case 4:
			s.s4++
		case 5:
			s.s5++
		}
		if q.status == 429 {
			s.s429++
		}
	}
	if len(got.keys) != len(want) {
		t.Fatalf("%d key rows, want %d", len(got.keys), len(want))
	}
	violations := map[string]int64{}
	for _, v := range got.violations {
		if v.Excess > 0 {
			violations[v.Key]++
		}
	}
	for _, k := range got.keys {
		w := want[k.Key]
		gotSums := sums{k.Requests, k.Status2xx, k.Status3xx, k.Status4xx, k.Status5xx, k.Status429, k.BytesSent, k.FirstSeen.UnixMilli(), k.LastSeen.UnixMilli()}
		if gotSums != *w {
			t.Errorf("key %q: got %+v, want %+v", k.Key, gotSums, *w)
		}
		if k.Violations != violations[k.Key] {
			t.Errorf("key %q: %d violations, want %d", k.Key, k.Violations, violations[k.Key])
		}
	}
}

func TestParseLimit(t *testing.T) {
	good := map[string]Limit{
		"100/min":    {"100/min", 100, 60_000, NoCalendar},
		"10/s":       {"10/s", 10, 1000, NoCalendar},
		"5000/10s":   {"5000/10s", 5000, 10_000, NoCalendar},
		"20/5min":    {"20/5min", 20, 300_000, NoCalendar},
		"1000/h":     {"1000/h", 1000, 3_600_000, NoCalendar},
		"100000/day": {"100000/day", 100000, 86_400_000, NoCalendar},
		"7/365day":   {"7/365day", 7, MaxWindowMillis, NoCalendar},
		"100/week":   {"100/week", 100, 0, Week},
		"100/month":  {"100/month", 100, 0, Month},
		"9/year":     {"9/year", 9, 0, Year},
	}
	for spec, want := range good {
		got, err := ParseLimit(spec)
		if err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"100", "x/min", "-1/min", "10/0s", "10/fortnight", "10/", "/min", "10/m",
		// The case: a window whose milliseconds overflowed.
		"1/9999999999999h", "1/366day", "1/8761h", "1/2week", "1/3month", "1/99999999999999999999s"} {
		if _, err := ParseLimit(spec); err == nil {
			t.Errorf("ParseLimit(%q) accepted", spec)
		}
	}
}

func TestWindowStartFloorsBeforeEpoch(t *testing.T) {
	for _, c := range []struct{ ts, width, want int64 }{
		{0, 1000, 0}, {999, 1000, 0}, {1000, 1000, 1000}, {-1, 1000, -1000}, {-1000, 1000, -1000}, {-1001, 1000, -2000},
	} {
		if got := windowStart(c.ts, c.width); got != c.want {
			t.Errorf("windowStart(%d, %d) = %d, want %d", c.ts, c.width, got, c.want)
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range [][3]int64{{7, 2, 3}, {-7, 2, -4}, {-6, 2, -3}, {0, 5, 0}, {-1, dayMillis, -1}, {dayMillis, dayMillis, 1}} {
		if got := floorDiv(c[0], c[1]); got != c[2] {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}
