package audit

import (
	"testing"

	"github.com/keyrate/keyrate/aggregate/policy"
)

func TestDefinition(t *testing.T) {
	for _, c := range []struct {
		rule policy.Rule
		want string
	}{
		{policy.Rule{Algorithm: policy.Fixed, Limit: 100, WindowMillis: 60_000}, "100 per 1m (fixed)"},
		{policy.Rule{Algorithm: policy.Sliding, Limit: 60, WindowMillis: 120_000, PerAccount: true}, "60 per 2m (sliding, per account)"},
		{policy.Rule{Algorithm: policy.Fixed, Limit: 8000, Calendar: "month"}, "8000 per month (fixed)"},
		{policy.Rule{Algorithm: policy.Fixed, Limit: 5, WindowMillis: 1500}, "5 per 1500ms (fixed)"},
		{policy.Rule{Algorithm: policy.TokenBucket, RateMicro: 2_500_000, Burst: 20}, "2.5 r/s, burst 20 (token-bucket)"},
		{policy.Rule{Algorithm: policy.LeakyBucket, NginxRate: 500, Burst: 10}, "0.5 r/s, burst 10 (leaky-bucket)"},
	} {
		if got := Definition(&c.rule); got != c.want {
			t.Errorf("%+v: %q, want %q", c.rule, got, c.want)
		}
	}
}
