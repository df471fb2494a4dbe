package policy

import (
	"math/rand/v2"
	"testing"
)

// TestLinearGatewaysPeakIsThePeakDemand checks what lets an evaluation
// keep a linear gateway's peak usage as its peak demand: usage(m) is
// usageOf(demand(m)) at every instant, and usageOf never decreases, so
// the largest usage seen is usageOf of the largest demand seen, to the
// bit. Limits of 0, which make any demand infinite usage, included.
func TestLinearGatewaysPeakIsThePeakDemand(t *testing.T) {
	rules := []Rule{
		{Algorithm: Fixed, Limit: 7, WindowMillis: 1000},
		{Algorithm: Fixed, Limit: 0, WindowMillis: 1000},
		{Algorithm: Sliding, Limit: 13, WindowMillis: 2500},
		{Algorithm: Sliding, Limit: 0, WindowMillis: 2500},
		{Algorithm: LeakyBucket, NginxRate: 3_000, Burst: 5},
		{Algorithm: LeakyBucket, NginxRate: 500, Burst: 0},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, r := range rules {
		var gws gateways
		g, ok := gws.fresh(&r).(linearGateway)
		if !ok {
			t.Fatalf("%s gateway is not linear", r.Algorithm)
		}
		peakUsage, peakDemand := 0.0, int64(minInt64)
		for t0, i := int64(0), 0; i < 5_000; i++ {
			t0 += rng.Int64N(400)
			n := 1 + rng.Int64N(6)
			a := g.room(t0, n)
			for _, m := range []int64{0, a, n} {
				u, d := g.usage(m), g.demand(m)
				if u != g.usageOf(d) {
					t.Fatalf("%s: usage(%d) = %g, usageOf(demand %d) = %g", r.Algorithm, m, u, d, g.usageOf(d))
				}
				peakUsage, peakDemand = max(peakUsage, 100*u), max(peakDemand, d)
			}
			g.take(t0, rng.Int64N(a+1))
			if got := max(0, 100*g.usageOf(peakDemand)); got != peakUsage {
				t.Fatalf("%s after %d instants: peak usage %g, from the peak demand %g", r.Algorithm, i+1, peakUsage, got)
			}
		}
	}
}
