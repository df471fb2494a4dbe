package pipeline

import (
	"context"
	"io"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
)

// EvalConfig says how Evaluate runs a policy over a Result.
type EvalConfig struct {
	Policy *policy.Policy
	// Workers is how many key ranges may be evaluated at once.
	Workers int
	// Split evaluates for day-partitioned reports (policy.Options.Split):
	// rows cut at UTC dates, per-date audit and keys rows, usage rows.
	Split bool
}

// rangeWorkers is the worker count from which Evaluate splits the keys
// into ranges. Below it the serial evaluation, fed by one read-ahead
// goroutine per worker State and one writer goroutine per table, already
// keeps the cores busy: on 2 cores the ranges measured 1.04x slower
// (their rows are buffered and copied once more). With many cores the
// serial merge and evaluation would otherwise cap the speed-up.
const rangeWorkers = 4

// Evaluate runs cfg.Policy over every key of res into sink. With many
// workers and a policy that looks at one key at a time, the keys are
// split into ranges evaluated concurrently (four per worker, so that an
// uneven range does not leave cores idle), their rows handed to sink in
// key order: the reports are byte-identical to a serial evaluation.
// Per-account rules, which add up keys across ranges, and aggregates
// spilled to disk, which are read front to back, are evaluated serially.
func Evaluate(ctx context.Context, res *Result, cfg EvalConfig, sink policy.Sink) (policy.Stats, error) {
	var ranges []aggregates
	if cfg.Workers >= rangeWorkers && cfg.Policy.KeyLocal() {
		ranges = res.ranges(4 * cfg.Workers)
	}
	if ranges == nil {
		return evaluate(ctx, res.inputs().classes(), cfg, sink)
	}
	ins := make([]policy.Inputs, len(ranges))
	for i := range ranges {
		ins[i] = ranges[i].classes()
	}
	stats := make([]policy.Stats, len(ranges))
	err := inRanges(ins, cfg.Workers, sink, func(i int, in policy.Inputs, out policy.Sink) error {
		var err error
		stats[i], err = evaluate(ctx, in, cfg, out)
		return err
	})
	var total policy.Stats
	for _, st := range stats {
		total.Keys += st.Keys
		total.UnplannedKeys += st.UnplannedKeys
	}
	return total, err
}

// evaluate runs the policy over in, one key range or all keys.
func evaluate(ctx context.Context, in policy.Inputs, cfg EvalConfig, sink policy.Sink) (policy.Stats, error) {
	return policy.Evaluate(ctx, in, cfg.Policy, policy.Options{Split: cfg.Split}, sink)
}

// aggregates are a run's partial aggregates as the pipeline keeps them:
// every request, and the requests each request filter counts.
type aggregates struct {
	All      aggregate.Partials
	Filtered []aggregate.Partials
}

// inputs are the result's partial aggregates.
func (r *Result) inputs() aggregates {
	return aggregates{All: r.Source, Filtered: r.Filtered}
}

// classes hands the aggregates to the evaluator as request classes: class
// 1<<i holds what filter i counts, class 0 the rest of every request (all
// minus each filter's). Where filters overlap, class 0 holds negative
// counts, but every sum the evaluator takes (a filter's classes, or all
// classes) is exact, as it reads each filter's requests alone. An
// interim form, until the pipeline keeps one aggregate per class.
func (s aggregates) classes() policy.Inputs {
	if len(s.Filtered) == 0 {
		return policy.Inputs{Classes: []policy.ClassPartials{{Class: 0, Partials: s.All}}}
	}
	in := policy.Inputs{Classes: []policy.ClassPartials{{Class: 0, Partials: residual{s.All, s.Filtered}}}}
	for i, f := range s.Filtered {
		in.Classes = append(in.Classes, policy.ClassPartials{Class: 1 << i, Partials: f})
	}
	return in
}

// residual is all minus the sum of parts, point by point (parts' keys and
// times are among all's); points that become zero are dropped.
type residual struct {
	all   aggregate.Partials
	parts []aggregate.Partials
}

func (r residual) Open() (aggregate.Cursor, error) {
	a, err := r.all.Open()
	if err != nil {
		return nil, err
	}
	var cs []aggregate.Cursor
	for _, p := range r.parts {
		c, err := p.Open()
		if err != nil {
			a.Close()
			for _, c := range cs {
				c.Close()
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	return &residualCursor{all: a, parts: aggregate.NewMerge(cs...)}, nil
}

type residualCursor struct {
	all, parts aggregate.Cursor
	key        string // parts' current key, if have
	points     []aggregate.Point
	have, done bool
}

func (c *residualCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	for {
		start := len(dst)
		key, pts, err := c.all.Next(dst)
		if err != nil {
			return key, pts, err
		}
		for !c.done && (!c.have || c.key < key) {
			c.key, c.points, err = c.parts.Next(c.points[:0])
			if err == io.EOF {
				c.done, c.have = true, false
			} else if err != nil {
				return "", pts, err
			}
			c.have = err == nil
		}
		if !c.have || c.key != key {
			return key, pts, nil
		}
		out := pts[:start]
		j := 0
		for _, p := range pts[start:] {
			for j < len(c.points) && c.points[j].TimeMillis < p.TimeMillis {
				j++
			}
			if j < len(c.points) && c.points[j].TimeMillis == p.TimeMillis {
				sub(&p.Counters, &c.points[j].Counters)
			}
			if p.Counters != (aggregate.Counters{}) {
				out = append(out, p)
			}
		}
		if len(out) > start {
			return key, out, nil
		}
		dst = out // the key is wholly in the filters' classes: next key
	}
}

func (c *residualCursor) Close() {
	c.all.Close()
	c.parts.Close()
}

// sub subtracts o from c.
func sub(c, o *aggregate.Counters) {
	c.Requests -= o.Requests
	c.Status2xx -= o.Status2xx
	c.Status3xx -= o.Status3xx
	c.Status4xx -= o.Status4xx
	c.Status5xx -= o.Status5xx
	c.Status429 -= o.Status429
	c.Rejected -= o.Rejected
	c.BytesSent -= o.BytesSent
}
