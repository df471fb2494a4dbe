package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
)

// req is one generated request.
type req struct {
	key      string
	t        int64
	method   string
	status   int
	rejected bool
}

// randomRule draws a rule with small parameters so that random streams
// hit its limits often.
func randomRule(rng *rand.Rand, name string) Rule {
	r := Rule{Name: name, Filter: -1}
	switch rng.IntN(4) {
	case 0:
		r.Algorithm, r.Limit = Fixed, rng.Int64N(6)
		switch rng.IntN(6) {
		case 0:
			r.Calendar = Day
		case 1:
			r.Calendar = Week
		case 2:
			r.Calendar = Month
		case 3:
			r.Calendar = Year
		default:
			r.WindowMillis = []int64{7, 1000, 60_000, 3_600_000}[rng.IntN(4)]
		}
	case 1:
		r.Algorithm, r.Limit = Sliding, rng.Int64N(6)
		r.WindowMillis = []int64{1, 999, 1000, 5000, 90_000}[rng.IntN(5)]
	case 2:
		r.Algorithm, r.Burst = TokenBucket, 1+rng.Int64N(5)
		r.RateMicro = []int64{500_000, 1_000_000, 3_333_333, 10_000_000, 1, 2_500_000_000}[rng.IntN(6)]
	default:
		r.Algorithm, r.Burst = LeakyBucket, rng.Int64N(6)
		r.NginxRate = []int64{1000, 500, 16, 10_000, 2000}[rng.IntN(5)]
	}
	return r
}

// The filter the property tests scope rules with, and its meaning
// written independently of RequestFilter.Match.
var testFilter = RequestFilter{Methods: []string{"POST"}, ExcludeStatus: []int{500}}

func testInScope(q req) bool { return q.method == "POST" }
func testCounted(q req) bool { return q.method == "POST" && q.status != 500 }

// classes holds a partial aggregate per request class, as the pipeline
// keeps them.
type classes map[aggregate.Class]*aggregate.State

// feed adds requests to their classes as the pipeline does: class 1
// holds those testFilter counts, class 0 the others.
func (cs classes) feed(reqs []req) {
	for _, q := range reqs {
		o := aggregate.Observation{TimeMillis: q.t, Status: q.status, Rejected: q.rejected}
		var c aggregate.Class
		if _, counted := testFilter.Match([]byte(q.method), []byte("/x"), q.status); counted {
			c = 1
		}
		if cs[c] == nil {
			cs[c] = aggregate.NewState()
		}
		cs[c].Add([]byte(q.key), &o)
	}
}

// merge adds o's classes into cs.
func (cs classes) merge(o classes) {
	for c, st := range o {
		if cs[c] == nil {
			cs[c] = aggregate.NewState()
		}
		cs[c].Merge(st)
	}
}

func (cs classes) inputs() Inputs {
	var in Inputs
	for c, st := range cs {
		in.Classes = append(in.Classes, ClassPartials{Class: c, Partials: st})
	}
	return in
}

// only is the inputs of a policy without request filters.
func only(p aggregate.Partials) Inputs { return Inputs{Classes: []ClassPartials{{Partials: p}}} }

// randomCase builds a random policy and request stream.
func randomCase(rng *rand.Rand) (*Policy, []req) {
	pol := &Policy{
		Plans:       map[string]*Plan{},
		KeyPlans:    map[string]string{"k0": "p1", "k1": "p2", "k2": "p1", "acme": "p2"},
		KeyAccounts: map[string]string{"k0": "acme", "k1": "acme", "k2": "beta", "k5": "gamma"},
		Filters:     []RequestFilter{testFilter},
		// Report buckets that divide a day, and some that straddle
		// midnights or span days.
		ReportMillis: []int64{1000, 60_000, 7, 7 * 60_000, 2 * dayMillis}[rng.IntN(5)],
	}
	if rng.IntN(4) == 0 {
		pol.BillableStatus = [][]string{{"2xx"}, {"4xx", "5xx"}, {"429", "3xx"}}[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		pol.DefaultPlan = "p1"
	}
	pol.AllWindows = rng.IntN(2) == 0
	for _, p := range []string{"p1", "p2"} {
		plan := &Plan{Name: p}
		for j := range 1 + rng.IntN(3) {
			r := randomRule(rng, fmt.Sprintf("r%d", rng.IntN(3)*10+j))
			r.PerAccount = rng.IntN(3) == 0
			if rng.IntN(3) == 0 {
				r.Filter = 0
			}
			plan.Rules = append(plan.Rules, r)
		}
		pol.Plans[p] = plan
	}
	// Streams start just before a month, week and year boundary
	// (2026-12-31 23:59:50 UTC is a Thursday), or just before 1970, and
	// span a few ms to weeks, so ties, bursts and window edges all occur.
	base := time.Date(2026, 12, 31, 23, 59, 50, 0, time.UTC).UnixMilli() - rng.Int64N(10_000)
	if rng.IntN(5) == 0 { // straddle the epoch: window arithmetic must floor
		base = -rng.Int64N(100_000)
	}
	span := []int64{3, 50, 2500, 120_000, 30 * 86_400_000, 0}[rng.IntN(6)]
	n := rng.IntN(60)
	reqs := make([]req, n)
	for i := range reqs {
		q := &reqs[i]
		q.key = fmt.Sprintf("k%d", rng.IntN(6))
		switch {
		case rng.IntN(4) == 0 && i > 0:
			q.t = reqs[rng.IntN(i)].t // a tie with an earlier request
		case span == 0:
			// Bursts across the midnights of a week.
			midnight := base + 10_000 - (base+10_000)%dayMillis
			q.t = midnight + rng.Int64N(7)*dayMillis + rng.Int64N(60_000) - 30_000
			if rng.IntN(4) == 0 { // on a date's edge
				q.t = midnight + rng.Int64N(7)*dayMillis + rng.Int64N(3) - 1
			}
		default:
			q.t = base + rng.Int64N(span)
		}
		q.method = []string{"GET", "POST"}[rng.IntN(2)]
		q.status = []int{200, 200, 301, 404, 429, 500}[rng.IntN(6)]
		q.rejected = q.status == 429
	}
	return pol, reqs
}

// TestEvaluateMatchesReference compares the engine with the reference
// gateways on random streams, fed to the engine shuffled and split over
// several partial aggregates as separate files would be, with and
// without day splitting.
func TestEvaluateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 1500 {
		pol, reqs := randomCase(rng)
		if !uniqueNames(pol) {
			continue
		}
		shuffled := slices.Clone(reqs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		cs := classes{}
		parts := 1 + rng.IntN(3)
		for p := range parts {
			part := classes{}
			part.feed(shuffled[p*len(shuffled)/parts : (p+1)*len(shuffled)/parts])
			cs.merge(part)
		}
		for _, split := range []bool{false, true} {
			got := &RowBuffer{}
			if _, err := Evaluate(context.Background(), cs.inputs(), pol, Options{Split: split}, got); err != nil {
				t.Fatal(err)
			}
			compareRows(t, iter, got, refEvaluate(pol, reqs, split))
			if t.Failed() {
				logCase(t, pol, reqs, split)
				return
			}
		}
	}
}

// uniqueNames reports whether rule names are unique within each plan,
// as a policy file requires.
func uniqueNames(pol *Policy) bool {
	for _, p := range pol.Plans {
		seen := map[string]bool{}
		for _, r := range p.Rules {
			if seen[r.Name] {
				return false
			}
			seen[r.Name] = true
		}
	}
	return true
}

func logCase(t *testing.T, pol *Policy, reqs []req, split bool) {
	t.Helper()
	t.Logf("split %v, policy: %+v", split, pol)
	for _, p := range pol.Plans {
		t.Logf("plan %s: %+v", p.Name, p.Rules)
	}
	t.Logf("requests: %+v", reqs)
}

func diff[T comparable](t *testing.T, iter int, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("case %d: %s: got %d rows, want %d\ngot  %+v\nwant %+v", iter, what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("case %d: %s row %d:\ngot  %+v\nwant %+v", iter, what, i, got[i], want[i])
			return
		}
	}
}
