package policy

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
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

// feed adds requests to a State as the pipeline does: every
// request into all, those in the filter's scope into filtered.
func feed(all, filtered *aggregate.State, reqs []req) {
	for _, q := range reqs {
		o := aggregate.Observation{TimeMillis: q.t, Status: q.status, Rejected: q.rejected}
		all.Add([]byte(q.key), &o)
		in, counted := testFilter.Match([]byte(q.method), []byte("/x"), q.status)
		switch {
		case counted:
			filtered.Add([]byte(q.key), &o)
		case in && q.rejected:
			filtered.AddRejection([]byte(q.key), q.t)
		}
	}
}

// expected computes one rule's rows from the reference gateway. reqs are
// the requests the rule sees (in scope), any order.
func expected(r *Rule, key, plan, scope string, reqs []req, counted func(req) bool, report int64, exp *RowBuffer, windows bool) {
	reqs = slices.Clone(reqs)
	slices.SortStableFunc(reqs, func(a, b req) int { return cmp.Compare(a.t, b.t) })
	var times []int64
	for _, q := range reqs {
		if counted(q) {
			times = append(times, q.t)
		}
	}
	acc := refAccept(r, times)
	type bucket struct{ requests, allowed, observed int64 }
	buckets := map[time.Time]*bucket{}
	var starts []time.Time
	at := func(t int64) *bucket {
		var s time.Time
		if r.Algorithm == Fixed {
			s = refWindowStart(r, t)
		} else {
			s = time.UnixMilli(t - ((t%report)+report)%report).UTC() // floor, also before 1970
		}
		if buckets[s] == nil {
			buckets[s] = &bucket{}
			starts = append(starts, s)
		}
		return buckets[s]
	}
	i := 0
	for _, q := range reqs {
		b := at(q.t)
		if q.rejected {
			b.observed++
		}
		if counted(q) {
			b.requests++
			if acc[i] {
				b.allowed++
			}
			i++
		}
	}
	audit := schema.AuditRow{Key: key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: scope}
	for _, s := range starts {
		b := buckets[s]
		end := s.Add(time.Duration(report) * time.Millisecond)
		if r.Algorithm == Fixed {
			end = refWindowEnd(r, s)
		}
		excess := b.requests - b.allowed
		caught := min(excess, b.observed)
		if windows && r.Algorithm == Fixed && b.requests > 0 {
			exp.windows = append(exp.windows, schema.WindowRow{Key: key, LimitName: r.Name, WindowStart: s, WindowEnd: end, Requests: b.requests})
		}
		if excess > 0 || b.observed > 0 {
			exp.violations = append(exp.violations, schema.ViolationRow{Key: key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
				WindowStart: s, WindowEnd: end, Requests: b.requests, Allowed: b.allowed, Excess: excess,
				Observed429: b.observed, Caught: caught, Leaked: excess - caught, FalseThrottles: b.observed - caught, Scope: scope})
		}
		audit.Requests += b.requests
		audit.Allowed += b.allowed
		audit.Excess += excess
		audit.Observed429 += b.observed
		audit.Caught += caught
		audit.Leaked += excess - caught
		audit.FalseThrottles += b.observed - caught
		if excess > 0 {
			audit.ExceededBuckets++
		}
	}
	exp.audits = append(exp.audits, audit)
}

// randomCase builds a random policy and request stream.
func randomCase(rng *rand.Rand) (*Policy, []req) {
	pol := &Policy{
		Plans:        map[string]*Plan{},
		KeyPlans:     map[string]string{"k0": "p1", "k1": "p2", "k2": "p1", "acme": "p2"},
		KeyAccounts:  map[string]string{"k0": "acme", "k1": "acme", "k2": "beta", "k5": "gamma"},
		Filters:      []RequestFilter{testFilter},
		ReportMillis: []int64{1000, 60_000, 7}[rng.IntN(3)],
	}
	if rng.IntN(2) == 0 {
		pol.DefaultPlan = "p1"
	}
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
	span := []int64{3, 50, 2500, 120_000, 30 * 86_400_000}[rng.IntN(5)]
	n := rng.IntN(60)
	reqs := make([]req, n)
	for i := range reqs {
		q := &reqs[i]
		q.key = fmt.Sprintf("k%d", rng.IntN(6))
		if rng.IntN(4) == 0 && i > 0 {
			q.t = reqs[rng.IntN(i)].t // a tie with an earlier request
		} else {
			q.t = base + rng.Int64N(span)
		}
		q.method = []string{"GET", "POST"}[rng.IntN(2)]
		q.status = []int{200, 200, 429, 500}[rng.IntN(4)]
		q.rejected = q.status == 429
	}
	return pol, reqs
}

// expectedAll evaluates a whole case with the reference gateways.
func expectedAll(pol *Policy, reqs []req) *RowBuffer {
	exp := &RowBuffer{}
	report := pol.ReportMillis
	byKey := map[string][]req{}
	byAcct := map[string][]req{}
	for _, q := range reqs {
		byKey[q.key] = append(byKey[q.key], q)
		if a := pol.KeyAccounts[q.key]; a != "" {
			byAcct[a] = append(byAcct[a], q)
		}
	}
	all := func(req) bool { return true }
	run := func(r *Rule, key, plan, scope string, rs []req, windows bool) {
		if r.Filter == 0 {
			var in []req
			for _, q := range rs {
				if testInScope(q) {
					in = append(in, q)
				}
			}
			expected(r, key, plan, scope, in, testCounted, report, exp, windows)
			return
		}
		expected(r, key, plan, scope, rs, all, report, exp, windows)
	}
	for acct, rs := range byAcct {
		plans := map[string]bool{}
		for k, a := range pol.KeyAccounts {
			if a == acct && pol.PlanOf(k) != "" {
				plans[pol.PlanOf(k)] = true
			}
		}
		for p := range plans {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount {
					run(&r, acct, p, ScopeAccount, rs, false)
				}
			}
		}
	}
	for key, rs := range byKey {
		p := pol.PlanOf(key)
		kr := schema.KeyRow{Key: key, Plan: p, Requests: int64(len(rs))}
		var violations int64
		if p != "" {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount && pol.KeyAccounts[key] != "" {
					continue
				}
				before := len(exp.audits)
				run(&r, key, p, ScopeKey, rs, true)
				violations += exp.audits[before].ExceededBuckets
			}
		}
		kr.Violations = violations
		exp.keys = append(exp.keys, kr)
	}
	// The engine's order: key column, then (for a shared key column)
	// account rows first, then limit name, plan and window.
	slices.SortStableFunc(exp.violations, func(a, b schema.ViolationRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Scope, b.Scope), strings.Compare(a.LimitName, b.LimitName),
			strings.Compare(a.Plan, b.Plan), a.WindowStart.Compare(b.WindowStart))
	})
	slices.SortStableFunc(exp.windows, func(a, b schema.WindowRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName), a.WindowStart.Compare(b.WindowStart))
	})
	slices.SortStableFunc(exp.audits, func(a, b schema.AuditRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Scope, b.Scope), strings.Compare(a.LimitName, b.LimitName), strings.Compare(a.Plan, b.Plan))
	})
	slices.SortFunc(exp.keys, func(a, b schema.KeyRow) int { return strings.Compare(a.Key, b.Key) })
	return exp
}

// TestEvaluateMatchesReference compares the engine with the reference
// gateways on random streams, fed to the engine shuffled and split over
// several partial aggregates as separate files would be.
func TestEvaluateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 1500 {
		pol, reqs := randomCase(rng)
		// Rule names must be unique within a plan.
		ok := true
		for _, p := range pol.Plans {
			seen := map[string]bool{}
			for _, r := range p.Rules {
				ok = ok && !seen[r.Name]
				seen[r.Name] = true
			}
		}
		if !ok {
			continue
		}
		exp := expectedAll(pol, reqs)

		shuffled := slices.Clone(reqs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		all, filtered := aggregate.NewState(), aggregate.NewState()
		parts := 1 + rng.IntN(3)
		for p := range parts {
			a, f := aggregate.NewState(), aggregate.NewState()
			feed(a, f, shuffled[p*len(shuffled)/parts:(p+1)*len(shuffled)/parts])
			all.Merge(a)
			filtered.Merge(f)
		}
		got := &RowBuffer{}
		if _, err := Evaluate(context.Background(), Inputs{All: all, Filtered: []aggregate.Partials{filtered}}, pol, got); err != nil {
			t.Fatal(err)
		}
		for i := range got.keys { // the reference does not sum statuses
			got.keys[i] = schema.KeyRow{Key: got.keys[i].Key, Plan: got.keys[i].Plan, Requests: got.keys[i].Requests, Violations: got.keys[i].Violations}
		}
		for i := range got.audits {
			// Usage above 1 exactly when something was rejected.
			if a := got.audits[i]; (a.PeakUsage > 1) != (a.Excess > 0) {
				t.Fatalf("case %d: audit %+v: peak usage and excess disagree", iter, a)
			}
			got.audits[i].PeakUsage = 0
		}
		diff(t, iter, "violations", got.violations, exp.violations)
		diff(t, iter, "windows", got.windows, exp.windows)
		diff(t, iter, "audits", got.audits, exp.audits)
		diff(t, iter, "keys", got.keys, exp.keys)
		if t.Failed() {
			t.Logf("policy: %+v", pol)
			for _, p := range pol.Plans {
				t.Logf("plan %s: %+v", p.Name, p.Rules)
			}
			t.Logf("requests: %+v", reqs)
			return
		}
	}
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
