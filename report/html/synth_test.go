package html_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/keyrate/keyrate/report/html"
)

// hostile are key names from a log an attacker wrote to: markup, script,
// a spreadsheet formula, quotes, a right-to-left override. The synthetic
// run makes them top offenders, so they are in the tables, the headings,
// the figures' attributes and the index.
var hostile = []string{
	`"><img src=x onerror=alert(1)>`,
	`</script><script>alert(2)</script>`,
	`=HYPERLINK("http://example.com/x","click")`,
	`k_'quoted' & "double" <b>bold</b>`,
	"k_\u202etxt.exe",
}

type planDef struct {
	name   string
	perMin float64 // the fixed per-minute limit
	limits []html.LimitRow
}

// The plan names carry markup too: they are log-independent (policy
// file) but still text.
var synthPlans = []planDef{
	{"free", 120, []html.LimitRow{
		{Limit: "per-minute", Definition: "120 per 1m (fixed)"},
		{Limit: "burst", Definition: "2 r/s, burst 5 (leaky-bucket)"},
	}},
	{"pro", 600, []html.LimitRow{
		{Limit: "per-minute", Definition: "600 per 1m (fixed)"},
		{Limit: "</text><script>alert(4)</script>", Definition: "10 r/s, burst 20 (token-bucket)"},
	}},
	{"<i>enterprise</i>", 1500, []html.LimitRow{
		{Limit: "per-minute", Definition: "1500 per 1m (sliding)"},
	}},
}

var day = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// synthetic builds a report of n keys: heavy keys with a day of per-minute
// series (one has per-second buckets, which the page merges) whose totals
// their rows add up to, and light keys with totals only, whose excess is
// too small for a top list. The first len(hostile) heavy keys have
// hostile names.
func synthetic(n, heavy int, seed uint64) *html.Report {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := &html.Report{Title: "keyrate audit", Charts: map[string][]html.Chart{}}
	s := &r.Summary
	s.From, s.To = day, day.Add(24*time.Hour-time.Second)
	s.Version, s.Policy, s.KeyDisplay = "1.4.0-test", "plans.toml", "raw"
	s.PolicyDigest = "sha256:4f1c9e0b7d2a6c3e8f5b1a9d0c7e2f4b6a8d1c3e5f7a9b0d2c4e6f8a1b3c5d7e"
	r.Inputs = []html.Input{
		{Path: "/logs/2026-11-23/edge-1.log.gz", Format: "combined"},
		{Path: "/logs/2026-11-23/edge-2.log.zst", Format: "combined"},
		{Path: "/logs/2026-11-23/<edge-3>.log", Format: "json"},
	}
	planIdx := map[string]int{}
	for i, p := range synthPlans {
		planIdx[p.name] = i
		r.Plans = append(r.Plans, html.PlanRow{Plan: p.name})
		for _, l := range p.limits {
			l.Plan = p.name
			r.Limits = append(r.Limits, l)
		}
	}
	limitRow := func(plan string, j int) *html.LimitRow {
		k := 0
		for i := range planIdx[plan] {
			k += len(synthPlans[i].limits)
		}
		return &r.Limits[k+j]
	}
	col := html.NewCollector(0, 0)
	for i := range n {
		p := synthPlans[rng.IntN(len(synthPlans))]
		if i < heavy {
			p = synthPlans[i%len(synthPlans)]
		}
		key := fmt.Sprintf("k_%016x", rng.Uint64())
		if i < len(hostile) {
			key = hostile[i]
		}
		var k html.KeyRow
		var perLimit []int64 // excess per limit; caught and leaked per limit
		var caughtL, leakedL []int64
		if i < heavy {
			var charts []html.Chart
			k, charts, perLimit, caughtL, leakedL = heavyKey(rng, key, p, i, heavy)
			r.Charts[key] = charts
		} else {
			k = html.KeyRow{Key: key, Plan: p.name, Requests: int64(rng.ExpFloat64() * 2000)}
			if rng.IntN(20) == 0 {
				k.Excess = int64(rng.IntN(50)) + 1 // below every heavy key's excess and leaked
				k.Requests += k.Excess
				k.Caught = k.Excess * int64(rng.IntN(101)) / 100
				k.Leaked = k.Excess - k.Caught
				perLimit, caughtL, leakedL = []int64{k.Excess}, []int64{k.Caught}, []int64{k.Leaked}
			}
			if rng.IntN(50) == 0 {
				k.FalseThrottles = int64(rng.IntN(30) + 1)
			}
		}
		col.Add(k)
		pr := &r.Plans[planIdx[p.name]]
		pr.Keys++
		if k.Excess > 0 {
			pr.KeysOver++
		}
		pr.Requests += k.Requests
		pr.Excess += k.Excess
		pr.Caught += k.Caught
		pr.Leaked += k.Leaked
		pr.FalseThrottles += k.FalseThrottles
		for j, e := range perLimit {
			if e == 0 {
				continue
			}
			l := limitRow(p.name, j)
			l.KeysOver++
			l.Excess += e
			l.Caught += caughtL[j]
			l.Leaked += leakedL[j]
		}
		s.Requests += k.Requests
		s.Excess += k.Excess
		s.Caught += k.Caught
		s.Leaked += k.Leaked
		s.FalseThrottles += k.FalseThrottles
	}
	col.Fill(r)
	// Only the charted keys keep their charts, as a caller would fill them.
	keep := map[string]bool{}
	for _, k := range r.ChartKeys() {
		keep[k] = true
	}
	for k := range r.Charts {
		if !keep[k] {
			delete(r.Charts, k)
		}
	}
	s.Keys = int64(n)
	s.Plans = int64(len(synthPlans))
	s.Keyless = s.Requests / 1000
	s.InvalidKeys, s.Malformed, s.UnplannedKeys = 17, 42, 3
	s.Lines = s.Requests + s.Keyless + s.InvalidKeys + s.Malformed
	for i := range r.Inputs {
		in := &r.Inputs[i]
		in.Lines, in.Malformed, in.Keyless, in.InvalidKeys = s.Lines/3, s.Malformed/3, s.Keyless/3, s.InvalidKeys/3
	}
	r.Inputs[0].Lines += s.Lines % 3
	r.Inputs[0].Malformed += s.Malformed % 3
	r.Inputs[0].Keyless += s.Keyless % 3
	r.Inputs[0].InvalidKeys += s.InvalidKeys % 3
	return r
}

// heavyKey is a day of one key that bursts over its per-minute limit and,
// on plans with a second limit, over that one in other minutes. The real
// gateway catches most bursts and now and then throttles a request the
// plan allowed. The row's numbers are reconciled per minute from the
// series, as keyrate reconciles per bucket.
func heavyKey(rng *rand.Rand, key string, p planDef, i, heavy int) (html.KeyRow, []html.Chart, []int64, []int64, []int64) {
	const n = 1440
	lim := p.perMin
	intensity := 0.3 + 1.4*float64(heavy-i)/float64(heavy) // earlier keys burst harder
	leakiness := 0.2 + 0.8*rng.Float64()
	phase := rng.Float64() * 2 * math.Pi
	req := make([]int64, n)
	ideal := [2][]int64{make([]int64, n), make([]int64, n)}
	real := make([]int64, n)
	for b := range n {
		base := lim * (0.5 + 0.25*math.Sin(float64(b)/n*4*math.Pi+phase))
		if (b/60)%6 == i%6 && rng.IntN(3) == 0 {
			base *= 1 + intensity*(0.5+rng.Float64())
		}
		v := math.Max(0, math.Round(base+rng.NormFloat64()*lim*0.04))
		req[b] = int64(v)
		if v > lim {
			ideal[0][b] = int64(v - lim)
		} else if len(p.limits) > 1 && v > 0.7*lim && rng.IntN(8) == 0 {
			ideal[1][b] = int64(v * 0.05) // a burst within the minute
		}
		if e := ideal[0][b] + ideal[1][b]; e > 0 && rng.Float64() > leakiness {
			real[b] = e
		} else if rng.IntN(150) == 0 {
			real[b] = int64(rng.IntN(3) + 1) // a false throttle
		}
	}
	k := html.KeyRow{Key: key, Plan: p.name}
	excess, caught, leaked := make([]int64, len(p.limits)), make([]int64, len(p.limits)), make([]int64, len(p.limits))
	for b := range n {
		k.Requests += req[b]
		e := ideal[0][b] + ideal[1][b]
		c := min(e, real[b])
		k.Excess += e
		k.Caught += c
		k.Leaked += e - c
		k.FalseThrottles += real[b] - c
		for j := range p.limits {
			if ideal[j][b] > 0 { // one limit rejects per minute here
				excess[j] += ideal[j][b]
				caught[j] += c
				leaked[j] += e - c
			}
		}
	}
	var charts []html.Chart
	for j, l := range p.limits {
		if excess[j] == 0 {
			continue
		}
		c := html.Chart{Limit: l.Limit, Definition: l.Definition, Start: day, Step: time.Minute,
			Requests: req, Ideal: ideal[j], Real: real, Allowance: make([]float64, n)}
		for b := range n {
			c.Allowance[b] = lim // the leaky/token bucket's sustained rate is the per-minute limit here
		}
		if i == 2 && j == 0 { // per-second buckets: the page merges them
			c = perSecond(c)
		}
		charts = append(charts, c)
	}
	return k, charts, excess, caught, leaked
}

// perSecond spreads each minute of c over 60 one-second buckets, keeping
// every total.
func perSecond(c html.Chart) html.Chart {
	n := len(c.Requests) * 60
	out := html.Chart{Limit: c.Limit, Definition: c.Definition, Start: c.Start, Step: time.Second,
		Requests: make([]int64, n), Allowance: make([]float64, n), Ideal: make([]int64, n), Real: make([]int64, n)}
	spread := func(dst []int64, v int64, at int) {
		for s := range 60 {
			dst[at+s] = v / 60
		}
		dst[at] += v % 60
	}
	for m := range c.Requests {
		spread(out.Requests, c.Requests[m], m*60)
		spread(out.Ideal, c.Ideal[m], m*60)
		spread(out.Real, c.Real[m], m*60)
		for s := range 60 {
			out.Allowance[m*60+s] = c.Allowance[m] / 60
		}
	}
	return out
}
