package policy

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// manyKeys is a State of n keys with a few requests each, all of them in
// account "acme" when accounts is set.
func manyKeys(n int, pol *Policy) *aggregate.State {
	st := aggregate.NewState()
	for k := range n {
		key := fmt.Sprintf("k%06d", k)
		for i := range 3 {
			st.Add([]byte(key), &aggregate.Observation{TimeMillis: int64(k*1000 + i), Status: 200})
		}
		if pol != nil {
			pol.KeyAccounts[key] = "acme"
		}
	}
	return st
}

// cancelAfterKeys is a Sink that cancels its context at the n-th key row
// and counts the rows that still come.
type cancelAfterKeys struct {
	discardSink
	n, keys int
	cancel  func()
	late    int
}

func (s *cancelAfterKeys) Key(*schema.KeyRow) error {
	if s.keys++; s.keys == s.n {
		s.cancel()
	} else if s.keys > s.n {
		s.late++
	}
	return nil
}

// TestEvaluateStopsWhenCanceled: a context canceled in the middle of the
// per-key pass stops the evaluation before the next key.
func TestEvaluateStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := manyKeys(50_000, nil)
	sink := &cancelAfterKeys{n: 100, cancel: cancel}
	start := time.Now()
	_, err := Evaluate(ctx, only(st), FromLimits([]Limit{{Name: "2/s", Allowed: 2, WindowMillis: 1000}}), Options{}, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want %v", err, context.Canceled)
	}
	if sink.late > 0 || sink.keys != sink.n {
		t.Errorf("%d keys evaluated after the cancel at key %d", sink.late, sink.n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to stop", d)
	}
}

// countingPartials counts the series read through its cursors and
// cancels a context once n have been read.
type countingPartials struct {
	src    aggregate.Partials
	n      int
	read   int
	cancel func()
}

func (p *countingPartials) Open() (aggregate.Cursor, error) {
	c, err := p.src.Open()
	return &countingCursor{c, p}, err
}

type countingCursor struct {
	aggregate.Cursor
	p *countingPartials
}

func (c *countingCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	key, points, err := c.Cursor.Next(dst)
	if err == nil {
		if c.p.read++; c.p.read == c.p.n {
			c.p.cancel()
		}
	}
	return key, points, err
}

// TestEvaluateStopsWhenCanceledGroupingAccounts: the per-account pass,
// which reads every key before the first row, stops as promptly.
func TestEvaluateStopsWhenCanceledGroupingAccounts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pol := &Policy{
		Plans: map[string]*Plan{"team": {Name: "team", Rules: []Rule{
			{Name: "acct", Algorithm: Fixed, Limit: 10, WindowMillis: 60_000, Filter: -1, PerAccount: true},
		}}},
		DefaultPlan: "team", KeyPlans: map[string]string{}, KeyAccounts: map[string]string{},
	}
	all := &countingPartials{src: manyKeys(50_000, pol), n: 100, cancel: cancel}
	var sink RowBuffer
	_, err := Evaluate(ctx, only(all), pol, Options{}, &sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want %v", err, context.Canceled)
	}
	if all.read != all.n {
		t.Errorf("%d keys read after the cancel at key %d", all.read-all.n, all.n)
	}
	if len(sink.keys)+len(sink.violations)+len(sink.audits) > 0 {
		t.Error("rows written after the cancel")
	}
}
