package policy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// burst is n simultaneous requests at millisecond t (relative to t0).
type burst struct{ t, n int64 }

// t0 is an arbitrary start, not aligned to anything.
const t0 = 1_767_225_600_123 // 2026-01-01T00:00:00.123Z

// served runs rule over the bursts through Evaluate and checks the
// reference agrees; it returns how many requests the ideal gateway served.
func served(t *testing.T, r Rule, bursts []burst) int64 {
	t.Helper()
	r.Filter = -1
	st := aggregate.NewState()
	var times []int64
	for _, b := range bursts {
		for range b.n {
			st.Add([]byte("k"), &aggregate.Observation{TimeMillis: t0 + b.t, Status: 200})
			times = append(times, t0+b.t)
		}
	}
	pol := &Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: []Rule{r}}}, DefaultPlan: "p"}
	var got RowBuffer
	if _, err := Evaluate(context.Background(), only(st), pol, Options{}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.audits) != 1 {
		t.Fatalf("got %d audit rows, want 1", len(got.audits))
	}
	var ref int64
	for _, ok := range refAccept(&r, times) {
		if ok {
			ref++
		}
	}
	if a := got.audits[0]; a.Allowed != ref || a.Requests != int64(len(times)) || a.Excess != a.Requests-a.Allowed {
		t.Fatalf("engine %+v disagrees with reference (%d served)", a, ref)
	}
	return got.audits[0].Allowed
}

// spread spreads n requests as evenly as possible over milliseconds
// [from, to], earlier milliseconds taking the remainder.
func spread(n, from, to int64) []burst {
	var out []burst
	ms := to - from + 1
	for i := range ms {
		k := n / ms
		if i < n%ms {
			k++
		}
		if k > 0 {
			out = append(out, burst{from + i, k})
		}
	}
	return out
}

// The five examples of AWS's API Gateway request throttling
// documentation: rate 10,000 requests per second, burst 5,000.
func TestTokenBucketAWSExamples(t *testing.T) {
	aws := Rule{Name: "aws", Algorithm: TokenBucket, RateMicro: 10_000 * 1_000_000, Burst: 5000}
	cases := []struct {
		name   string
		bursts []burst
		want   int64
	}{
		{"10,000 evenly over one second (10 per ms)", spread(10_000, 0, 999), 10_000},
		{"10,000 in the first millisecond", []burst{{0, 10_000}}, 5000},
		{"5,000 in the first ms, 5,000 spread over the remaining 999 ms",
			append([]burst{{0, 5000}}, spread(5000, 1, 999)...), 10_000},
		{"5,000 in the first ms, 5,000 at the 101st ms", []burst{{0, 5000}, {100, 5000}}, 6000},
		{"5,000 in the first ms, 1,000 at the 101st, 4,000 over the remaining 899 ms",
			append([]burst{{0, 5000}, {100, 1000}}, spread(4000, 101, 999)...), 10_000},
	}
	for _, c := range cases {
		var total int64
		for _, b := range c.bursts {
			total += b.n
		}
		if total != 10_000 {
			t.Fatalf("%s: the case sends %d requests, want 10,000", c.name, total)
		}
		if got := served(t, aws, c.bursts); got != c.want {
			t.Errorf("%s: served %d, want %d (throttled %d, want %d)", c.name, got, c.want, total-got, total-c.want)
		}
	}
}

// nginx's limit_req documentation: "rate=1r/s ... burst=5" allows one
// request per second on average with bursts of at most 5 beyond it; the
// other cases follow from the module's arithmetic.
func TestLeakyBucketNginxExamples(t *testing.T) {
	oneRps := Rule{Name: "one", Algorithm: LeakyBucket, NginxRate: 1000, Burst: 5}
	cases := []struct {
		name   string
		rule   Rule
		bursts []burst
		want   int64
	}{
		// The first request creates the node (excess 0); 5 more raise the
		// excess to 5000 = burst*1000; the 7th would make it 6000 > 5000.
		{"burst=5: 10 at once", oneRps, []burst{{0, 10}}, 6},
		// One second drains 1000: exactly one more fits.
		{"burst=5: full bucket, 2 more a second later", oneRps, []burst{{0, 10}, {1000, 2}}, 7},
		{"burst=5: full bucket, 1 more 999 ms later", oneRps, []burst{{0, 6}, {999, 1}}, 6},
		{"burst=5: steady 1r/s never rejected", oneRps, spreadEvery(20, 1000), 20},
		// burst=0: after an accepted request, the next needs the whole
		// 1000 drained.
		{"burst=0: 2 at once", Rule{Algorithm: LeakyBucket, NginxRate: 1000}, []burst{{0, 2}}, 1},
		{"burst=0: 1000 ms apart", Rule{Algorithm: LeakyBucket, NginxRate: 1000}, []burst{{0, 1}, {1000, 1}}, 2},
		{"burst=0: 999 ms apart", Rule{Algorithm: LeakyBucket, NginxRate: 1000}, []burst{{0, 1}, {999, 1}}, 1},
		// A rejected request changes nothing: the third request, 1000 ms
		// after the first, is measured from the first.
		{"burst=0: rejected leaves state", Rule{Algorithm: LeakyBucket, NginxRate: 1000}, []burst{{0, 1}, {500, 1}, {1000, 1}}, 2},
		// 30r/m is ctx->rate 500: 2000 ms drain 1000; 1999 ms drain
		// 999 (500*1999/1000 truncates), leaving excess 1 > 0.
		{"30r/m burst=0: 2000 ms apart", Rule{Algorithm: LeakyBucket, NginxRate: 500}, []burst{{0, 1}, {2000, 1}}, 2},
		{"30r/m burst=0: 1999 ms apart", Rule{Algorithm: LeakyBucket, NginxRate: 500}, []burst{{0, 1}, {1999, 1}}, 1},
		{"30r/m burst=1: 3 at once, 1 after 1 s", Rule{Algorithm: LeakyBucket, NginxRate: 500, Burst: 1}, []burst{{0, 3}, {1000, 1}}, 2},
	}
	for _, c := range cases {
		if got := served(t, c.rule, c.bursts); got != c.want {
			t.Errorf("%s: served %d, want %d", c.name, got, c.want)
		}
	}
}

func spreadEvery(n, every int64) []burst {
	var out []burst
	for i := range n {
		out = append(out, burst{i * every, 1})
	}
	return out
}

func TestFixedCalendarWindows(t *testing.T) {
	// 2026-03-01 is a Sunday: a week window holding it starts Monday
	// 2026-02-23; the month window is March; the year window 2026.
	ts := int64(1_772_366_400_000) // 2026-03-01T12:00:00Z
	cases := []struct {
		cal        Calendar
		start, end string
	}{
		{Day, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},
		{Week, "2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z"},
		{Month, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{Year, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		r := Rule{Algorithm: Fixed, Calendar: c.cal}
		s, e := r.fixedWindow(ts)
		if got := aggregate.Millis(s).Format("2006-01-02T15:04:05Z07:00"); got != c.start {
			t.Errorf("%s: start %s, want %s", c.cal, got, c.start)
		}
		if got := aggregate.Millis(e).Format("2006-01-02T15:04:05Z07:00"); got != c.end {
			t.Errorf("%s: end %s, want %s", c.cal, got, c.end)
		}
	}
}

func TestRateMicroOf(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want int64
		ok   bool
	}{
		{10, 10_000_000, true}, {0.5, 500_000, true}, {3.333333, 3_333_333, true},
		{1e-6, 1, true}, {1e-7, 0, false}, {0.1234567, 0, false}, {0, 0, false}, {-1, 0, false},
		{math.NaN(), 0, false}, {math.Inf(1), 0, false},
		// A 7th decimal is refused at any size, not only below 1/s.
		{1.1234567, 0, false}, {1234.0000001, 0, false}, {123.456789, 123_456_789, true},
		{0.1, 100_000, true}, {999_999_999.999999, 999_999_999_999_999, true},
	} {
		got, ok := RateMicroOf(c.rate)
		if got != c.want || ok != c.ok {
			t.Errorf("RateMicroOf(%g) = %d, %v; want %d, %v", c.rate, got, ok, c.want, c.ok)
		}
	}
	// Every rate written with 6 decimals, as TOML hands it over (the
	// nearest float64), is accepted exactly, up to the maximum.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		m := 1 + rng.Int64N(MaxRateMicro)
		if rng.IntN(2) == 0 {
			m = 1 + rng.Int64N(100_000_000) // rates below 100/s
		}
		rate, err := strconv.ParseFloat(fmt.Sprintf("%d.%06d", m/1_000_000, m%1_000_000), 64)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := RateMicroOf(rate); !ok || got != m {
			t.Fatalf("RateMicroOf(%d.%06d) = %d, %v; want %d", m/1_000_000, m%1_000_000, got, ok, m)
		}
	}
}

func TestMatchGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"/v1/search*", "/v1/search", true}, {"/v1/search*", "/v1/search/deep/path", true},
		{"/v1/search*", "/v1/sear", false}, {"/v1/*/items", "/v1/a/b/items", true},
		{"/v1/?", "/v1/x", true}, {"/v1/?", "/v1/xy", false}, {"", "", true}, {"*", "", true},
		{"/a*b*c", "/aXbYbZc", true}, {"/a*b*c", "/aXbYbZ", false}, {"/exact", "/exact", true}, {"/exact", "/exactly", false},
	} {
		if got := MatchGlob(c.pattern, []byte(c.s)); got != c.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// A class given twice, or without its aggregate, must fail, not be
// counted twice or read as "no requests".
func TestEvaluateRejectsBadClasses(t *testing.T) {
	pol := &Policy{
		Plans:       map[string]*Plan{"p": {Name: "p", Rules: []Rule{{Name: "x", Algorithm: Fixed, Limit: 1, WindowMillis: 1000, Filter: 0}}}},
		DefaultPlan: "p",
		Filters:     []RequestFilter{{Methods: []string{"POST"}}},
	}
	st := aggregate.NewState()
	st.Add([]byte("k"), &aggregate.Observation{TimeMillis: 1})
	for _, in := range []Inputs{
		{Classes: []ClassPartials{{Class: 1, Partials: st}, {Class: 0, Partials: st}, {Class: 1, Partials: st}}},
		{Classes: []ClassPartials{{Class: 1}}},
	} {
		if _, err := Evaluate(context.Background(), in, pol, Options{}, &RowBuffer{}); err == nil {
			t.Errorf("Evaluate accepted classes %+v", in.Classes)
		}
	}
}

func TestEvaluateRejectsInvalidRules(t *testing.T) {
	st := aggregate.NewState()
	st.Add([]byte("k"), &aggregate.Observation{TimeMillis: 1})
	for _, r := range []Rule{
		{Name: "a", Algorithm: "gcra", Filter: -1},
		{Name: "b", Algorithm: TokenBucket, RateMicro: 0, Burst: 1, Filter: -1},
		{Name: "c", Algorithm: Fixed, Limit: 1, Filter: -1}, // no window
		{Name: "d", Algorithm: Fixed, Limit: 1, WindowMillis: 1, Filter: 3},
	} {
		pol := &Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: []Rule{r}}}, DefaultPlan: "p"}
		if _, err := Evaluate(context.Background(), only(st), pol, Options{}, &RowBuffer{}); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
}
