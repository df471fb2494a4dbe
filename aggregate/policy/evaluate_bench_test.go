package policy

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
	"time"

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

// monthState holds 100 keys with 10,000 points each spread over 30 days
// (one every ~4 minutes, in bursts): the nightly dataset's shape.
func monthState() *aggregate.State {
	st := aggregate.NewState()
	for k := range 100 {
		key := []byte(fmt.Sprintf("key-%03d", k))
		t := int64(1_767_225_600_000)
		for i := range 10_000 {
			if i%10 == 0 {
				t += 2_591_000 // the next burst
			}
			t += int64(1 + (i*7)%5)
			for range 1 + i%4 {
				st.Add(key, &aggregate.Observation{TimeMillis: t, Status: 200})
			}
		}
	}
	return st
}

type discardSink struct{}

func (discardSink) Window(*schema.WindowRow) error               { return nil }
func (discardSink) Violation(*schema.ViolationRow) error         { return nil }
func (discardSink) Key(*schema.KeyRow) error                     { return nil }
func (discardSink) Audit(*schema.AuditRow) error                 { return nil }
func (discardSink) Usage(*schema.UsageRow) error                 { return nil }
func (discardSink) FalseThrottle(*schema.FalseThrottleRow) error { return nil }

// cpuNanos is the process's CPU time: on a shared machine, where wall
// time depends on the neighbours, the steadier measure.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchModes evaluates pol over st in each mode: flat (""), "/split"
// (day partitions) and "/checkpoints" (day partitions saving every
// scope's state at each date), reporting wall and CPU time per point.
func benchModes(b *testing.B, name string, st *aggregate.State, pol *Policy) {
	days, err := DatesOf(context.Background(), only(st))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"", "/split", "/checkpoints"} {
		b.Run(name+mode, func(b *testing.B) {
			b.ReportAllocs()
			c0 := cpuNanos()
			for range b.N {
				opts := Options{Split: mode != ""}
				if mode == "/checkpoints" {
					opts.Checkpoints = &StateFiles{Open: func(time.Time) (io.Writer, error) { return io.Discard, nil }}
					opts.CheckpointDates = days
				}
				if _, err := Evaluate(context.Background(), only(st), pol, opts, discardSink{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(st.Cells()), "ns/point")
			b.ReportMetric(float64(cpuNanos()-c0)/float64(b.N)/float64(st.Cells()), "cpu-ns/point")
		})
	}
}

// BenchmarkEvaluate reports the cost per point of each algorithm; the
// fixed case is the issue-2 evaluator's workload, the baseline for the
// others. The bench state spans one date, so /split and /checkpoints
// measure the bookkeeping, not more rows.
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
		benchModes(b, name, st, &Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: []Rule{r}}}, DefaultPlan: "p"})
	}
}

// BenchmarkEvaluateMonth evaluates a plan of four limits (a per-minute
// window, a monthly quota, an hour's sliding window, a token bucket) over
// a month: with day partitions every key has rows, audit and usage rows
// and (with checkpoints) a state on each of 30 dates.
func BenchmarkEvaluateMonth(b *testing.B) {
	pol := &Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: []Rule{
		{Name: "minute", Algorithm: Fixed, Limit: 20, WindowMillis: 60_000, Filter: -1},
		{Name: "month", Algorithm: Fixed, Limit: 50_000, Calendar: Month, Filter: -1},
		{Name: "hour", Algorithm: Sliding, Limit: 200, WindowMillis: 3_600_000, Filter: -1},
		{Name: "burst", Algorithm: TokenBucket, RateMicro: 1_000_000, Burst: 30, Filter: -1},
	}}}, DefaultPlan: "p"}
	benchModes(b, "plan", monthState(), pol)
}

// manyKeysState holds 128,000 keys with ~8 requests each over an hour, a
// few in the same second: the shape of a log with 256,000 distinct keys
// (keyrate-gen --keys 256000), where the per-key work, not the points,
// sets the evaluation's cost.
func manyKeysState() *aggregate.State {
	st := aggregate.NewState()
	t0 := int64(1_767_225_600_000)
	for k := range 128_000 {
		key := []byte(fmt.Sprintf("ak_%016x", uint64(k)*0x9e3779b97f4a7c15))
		t := t0 + int64(k%3600)*1000
		for i := range 8 {
			status := 200
			if i%5 == 4 {
				status = 429
			}
			st.Add(key, &aggregate.Observation{TimeMillis: t, Status: status, Rejected: status == 429})
			t += int64(i%3) * 1000
		}
	}
	return st
}

// heldSeries is a partial aggregate held as series in memory, keys
// included: evaluating it measures the evaluation without the State's
// read-back.
type heldSeries []aggregate.Series

func holdSeries(b *testing.B, p aggregate.Partials) heldSeries {
	c, err := p.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var out heldSeries
	for {
		key, points, err := c.Next(nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, aggregate.Series{Key: key, Points: points})
	}
}

func (h heldSeries) Open() (aggregate.Cursor, error) { return &heldCursor{s: h}, nil }

type heldCursor struct {
	s heldSeries
	i int
}

func (c *heldCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	if c.i == len(c.s) {
		return "", dst, io.EOF
	}
	s := &c.s[c.i]
	c.i++
	return s.Key, append(dst, s.Points...), nil
}

func (c *heldCursor) Close() {}

// BenchmarkEvaluateManyKeys reports the evaluation's cost per key over
// 128,000 keys of a few requests each, under --limit 100/min, flat and
// with day partitions, read back from the State and (held) from series
// in memory, which leaves the evaluator's own cost: in the steady state
// a key should cost no allocation but its string, which the State's
// cursor makes and the rows keep.
func BenchmarkEvaluateManyKeys(b *testing.B) {
	st := manyKeysState()
	held := holdSeries(b, st)
	pol := FromLimits([]Limit{{Name: "100/min", Allowed: 100, WindowMillis: 60_000}})
	keys := float64(st.Keys())
	for _, in := range []struct {
		name string
		p    aggregate.Partials
	}{{"state", st}, {"held", held}} {
		for _, split := range []bool{false, true} {
			name := in.name + "/flat"
			if split {
				name = in.name + "/split"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				b.ResetTimer()
				for range b.N {
					if _, err := Evaluate(context.Background(), only(in.p), pol, Options{Split: split}, discardSink{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
				b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N)/keys, "allocs/key")
			})
		}
	}
}
