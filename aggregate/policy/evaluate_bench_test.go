package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// benchState holds 100 keys with 10,000 points each (one to four
// requests per point, a few ms apart): a busy hour of second-precision
// traffic per key.
func benchState() *aggregate.State {
	st := aggregate.NewState()
	for k := range 100 {
		key := []byte(fmt.Sprintf("key-%03d", k))
		t := int64(1_767_225_600_000)
		for i := range 10_000 {
			t += int64(1 + (i*7)%5)
			for range 1 + i%4 {
				st.Add(key, &aggregate.Observation{TimeMillis: t, Status: 200})
			}
		}
	}
	return st
}

type discardSink struct{}

func (discardSink) Window(*schema.WindowRow) error       { return nil }
func (discardSink) Violation(*schema.ViolationRow) error { return nil }
func (discardSink) Key(*schema.KeyRow) error             { return nil }
func (discardSink) Audit(*schema.AuditRow) error         { return nil }
func (discardSink) Usage(*schema.UsageRow) error         { return nil }

// BenchmarkEvaluate reports the cost per point of each algorithm; the
// fixed case is the issue-2 evaluator's workload, the baseline for the
// others.
func BenchmarkEvaluate(b *testing.B) {
	st := benchState()
	rules := map[string]Rule{
		"fixed":        {Algorithm: Fixed, Limit: 100, WindowMillis: 1000},
		"sliding":      {Algorithm: Sliding, Limit: 100, WindowMillis: 1000},
		"token-bucket": {Algorithm: TokenBucket, RateMicro: 50_000_000, Burst: 100},
		"leaky-bucket": {Algorithm: LeakyBucket, NginxRate: 50_000, Burst: 100},
	}
	for _, name := range []string{"fixed", "sliding", "token-bucket", "leaky-bucket"} {
		r := rules[name]
		r.Name, r.Filter = name, -1
		pol := &Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: []Rule{r}}}, DefaultPlan: "p"}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := Evaluate(context.Background(), only(st), pol, Options{}, discardSink{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(st.Cells()), "ns/point")
		})
	}
}
