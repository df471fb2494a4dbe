package policy

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

type obs struct {
	key string
	ms  int64
	st  int
}

func randomObs(r *rand.Rand, n int) []obs {
	keys := []string{"a", "b", "k_1", "k_2", "zz", "Z", "=x", "ü"}
	base := int64(1795392000000) // 2026-11-23T00:00:00Z
	out := make([]obs, n)
	for i := range out {
		out[i] = obs{
			key: keys[r.IntN(len(keys))],
			// Up to four days, second precision with ties.
			ms: base - 3_600_000 + r.Int64N(4*86_400)*1000,
			st: []int{200, 200, 404, 429, 503}[r.IntN(5)],
		}
	}
	return out
}

func stateOf(o []obs) *aggregate.State {
	s := aggregate.NewState()
	for _, x := range o {
		s.Add([]byte(x.key), &aggregate.Observation{TimeMillis: x.ms, Status: x.st, Bytes: 10})
	}
	return s
}

// TestDailyKeys compares DailyKeys with a request-by-request reference:
// per (key, UTC date) sums of the observations, violations counted on the
// date of their window's start or the next date with requests.
func TestDailyKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	limits := []Limit{
		{Name: "3/min", Allowed: 3, WindowMillis: 60_000},
		{Name: "20/7min", Allowed: 20, WindowMillis: 7 * 60_000}, // windows straddle midnight
		{Name: "100/2day", Allowed: 100, WindowMillis: 2 * 86_400_000},
	}
	nextDate := 0 // violations counted on a later date than their window's start
	for range 20 {
		o := randomObs(r, 3000)
		// A key whose only requests are just after midnight, in a 7-minute
		// window that starts the day before.
		for range 25 {
			o = append(o, obs{"sparse", 1795392000000 + dayMillis + 30_000, 200})
		}
		s := stateOf(o)
		var whole, daily RowBuffer
		if _, err := Evaluate(context.Background(), Inputs{All: s}, FromLimits(limits), &whole); err != nil {
			t.Fatal(err)
		}
		d := NewDailyKeys(s, &daily)
		if _, err := Evaluate(context.Background(), Inputs{All: d}, FromLimits(limits), d); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(daily.windows, whole.windows) || !slices.Equal(daily.violations, whole.violations) {
			t.Fatal("window or violation rows changed")
		}
		type kd struct {
			key string
			day int64
		}
		ref := map[kd]*schema.KeyRow{}
		for _, x := range o {
			k := kd{x.key, floorDiv(x.ms, dayMillis)}
			row := ref[k]
			if row == nil {
				row = &schema.KeyRow{Key: x.key, Plan: "cli", FirstSeen: aggregate.Millis(x.ms), LastSeen: aggregate.Millis(x.ms)}
				ref[k] = row
			}
			row.Requests++
			row.BytesSent += 10
			if aggregate.Millis(x.ms).Before(row.FirstSeen) {
				row.FirstSeen = aggregate.Millis(x.ms)
			}
			if aggregate.Millis(x.ms).After(row.LastSeen) {
				row.LastSeen = aggregate.Millis(x.ms)
			}
			switch {
			case x.st == 200:
				row.Status2xx++
			case x.st == 429:
				row.Status4xx++
				row.Status429++
			case x.st == 404:
				row.Status4xx++
			case x.st == 503:
				row.Status5xx++
			}
		}
		for _, v := range whole.violations {
			day := floorDiv(v.WindowStart.UnixMilli(), dayMillis)
			for ; ; day++ {
				if row := ref[kd{v.Key, day}]; row != nil {
					row.Violations++
					if day != floorDiv(v.WindowStart.UnixMilli(), dayMillis) {
						nextDate++
					}
					break
				}
			}
		}
		if len(daily.keys) != len(ref) {
			t.Fatalf("%d daily key rows, want %d", len(daily.keys), len(ref))
		}
		sums := map[string]schema.KeyRow{}
		for i, got := range daily.keys {
			want := ref[kd{got.Key, floorDiv(got.FirstSeen.UnixMilli(), dayMillis)}]
			if want == nil || got != *want {
				t.Fatalf("row %d = %+v, want %+v", i, got, want)
			}
			if i > 0 && (got.Key < daily.keys[i-1].Key || got.Key == daily.keys[i-1].Key && !got.FirstSeen.After(daily.keys[i-1].FirstSeen)) {
				t.Fatalf("row %d out of (key, date) order", i)
			}
			sum := sums[got.Key]
			sum.Requests += got.Requests
			sum.Violations += got.Violations
			sums[got.Key] = sum
		}
		// Summing a key's days gives its whole-run row.
		for _, w := range whole.keys {
			if s := sums[w.Key]; s.Requests != w.Requests || s.Violations != w.Violations {
				t.Fatalf("key %s: days sum to %d requests %d violations, whole run %d %d", w.Key, s.Requests, s.Violations, w.Requests, w.Violations)
			}
		}
	}
	if nextDate == 0 {
		t.Error("no violation window started on a date without requests: the test misses that case")
	}
}

// accountSink emits a row for another key (as per-account rules do)
// before each violation: DailyKeys must pass it on without counting it.
type accountSink struct {
	*DailyKeys
	extra int
}

func (a *accountSink) Violation(r *schema.ViolationRow) error {
	a.extra++
	other := *r
	other.Key = "account:" + r.Key
	if err := a.DailyKeys.Violation(&other); err != nil {
		return err
	}
	return a.DailyKeys.Violation(r)
}

func TestDailyKeysOtherRows(t *testing.T) {
	o := []obs{}
	for i := range 10 {
		o = append(o, obs{"k", 1795392000000 + int64(i)*1000, 200})
	}
	var out RowBuffer
	d := NewDailyKeys(stateOf(o), &out)
	a := &accountSink{DailyKeys: d}
	if _, err := Evaluate(context.Background(), Inputs{All: d}, FromLimits([]Limit{{Name: "5/min", Allowed: 5, WindowMillis: 60_000}}), a); err != nil {
		t.Fatal(err)
	}
	if a.extra != 1 || len(out.violations) != 2 || len(out.keys) != 1 || out.keys[0].Violations != 1 {
		t.Errorf("violations %d (want 2 passed on), keys %+v (want 1 violation counted)", len(out.violations), out.keys)
	}
}

func TestFloorDiv(t *testing.T) {
	for _, c := range [][3]int64{{7, 2, 3}, {-7, 2, -4}, {-6, 2, -3}, {0, 5, 0}, {-1, dayMillis, -1}, {dayMillis, dayMillis, 1}} {
		if got := floorDiv(c[0], c[1]); got != c[2] {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}
