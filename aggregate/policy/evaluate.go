package policy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// Plan is a named set of rules, applied to every key assigned to it.
type Plan struct {
	Name  string
	Rules []Rule
}

// Policy says which plan each key is on, which account holds it, and
// which requests each scoped rule counts.
type Policy struct {
	Plans map[string]*Plan
	// DefaultPlan is the plan of keys not assigned one ("": none).
	DefaultPlan string
	// KeyPlans assigns plans to keys.
	KeyPlans map[string]string
	// KeyAccounts assigns keys to accounts, for per-account rules.
	KeyAccounts map[string]string
	// Filters are the distinct request filters of scoped rules;
	// Rule.Filter indexes them.
	Filters []RequestFilter
	// ReportMillis is the report bucket of sliding, token-bucket and
	// leaky-bucket rules (0: one minute).
	ReportMillis int64
}

// CLIPlan is the plan name --limit shortcuts run under.
const CLIPlan = "cli"

// FromLimits is the one-plan policy that --limit flags stand for:
// every key on plan "cli" with one fixed rule per limit.
func FromLimits(limits []Limit) *Policy {
	p := &Plan{Name: CLIPlan}
	for _, l := range limits {
		p.Rules = append(p.Rules, Rule{Name: l.Name, Algorithm: Fixed, Limit: l.Allowed, WindowMillis: l.WindowMillis, Calendar: l.Calendar, Filter: -1})
	}
	return &Policy{Plans: map[string]*Plan{CLIPlan: p}, DefaultPlan: CLIPlan}
}

// KeyLocal reports whether every rule of the policy looks at one key at
// a time: no per-account rule adds up several keys. Such a policy can be
// evaluated over key ranges separately.
func (p *Policy) KeyLocal() bool {
	for _, plan := range p.Plans {
		for _, r := range plan.Rules {
			if r.PerAccount {
				return false
			}
		}
	}
	return true
}

// PlanOf returns the plan of key, or "" if it has none.
func (p *Policy) PlanOf(key string) string {
	if pl, ok := p.KeyPlans[key]; ok {
		return pl
	}
	return p.DefaultPlan
}

// Inputs are the partial aggregates a policy is evaluated over.
type Inputs struct {
	// All holds every request of every key.
	All aggregate.Partials
	// Filtered[i] holds the requests matching Policy.Filters[i].
	Filtered []aggregate.Partials
}

// Stats summarise an evaluation.
type Stats struct {
	// Keys counts the keys evaluated: the keys table has a row for each,
	// or one for each date of each with day partitions.
	Keys int64
	// UnplannedKeys counts keys with no plan (not assigned one and no
	// default plan); they appear in the keys table with an empty plan.
	UnplannedKeys int64
}

// Scopes of report rows.
const (
	ScopeKey     = "key"
	ScopeAccount = "account"
)

// Evaluate runs every rule of every key's plan as an ideal gateway over
// the key's requests and streams the rows to sink: windows (fixed,
// per-key rules), violations and audit rows sorted by key, limit name,
// window start; one keys row per key. Invalid rules are an error, never
// a panic. Per-account rules count all keys of an account together;
// their rows carry the account in the key column.
// Inputs may be read twice (once to group accounts); memory holds one
// key's series per input plus the per-account aggregates and rows.
// Evaluate stops with ctx's error within a key of ctx being done, in
// either pass.
func Evaluate(ctx context.Context, in Inputs, pol *Policy, sink Sink) (Stats, error) {
	for i := range pol.Filters {
		if i >= len(in.Filtered) || in.Filtered[i] == nil {
			return Stats{}, fmt.Errorf("policy: no partial aggregate for request filter %d (%s)", i, pol.Filters[i].Canonical())
		}
	}
	ev := &evaluator{pol: pol, report: pol.ReportMillis}
	if ev.report <= 0 {
		ev.report = 60_000
	}
	ev.plans = map[string]*Plan{}
	for name, p := range pol.Plans {
		q := &Plan{Name: p.Name, Rules: slices.Clone(p.Rules)}
		for i := range q.Rules {
			if err := q.Rules[i].Validate(); err != nil {
				return Stats{}, fmt.Errorf("policy: plan %s, limit %s: %w", name, q.Rules[i].Name, err)
			}
			if f := q.Rules[i].Filter; f >= len(pol.Filters) {
				return Stats{}, fmt.Errorf("policy: plan %s, limit %s: no request filter %d", name, q.Rules[i].Name, f)
			}
		}
		slices.SortStableFunc(q.Rules, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
		ev.plans[name] = q
	}
	var acct accountRows
	if err := ev.accounts(ctx, in, &acct); err != nil {
		return Stats{}, err
	}
	var stats Stats
	var key schema.KeyRow
	err := walk(ctx, in.All, in.Filtered, func(s *aggregate.Series, filtered func(int) *aggregate.Series) error {
		if err := acct.flushUpTo(s.Key, sink); err != nil {
			return err
		}
		stats.Keys++
		planName := pol.PlanOf(s.Key)
		key = schema.KeyRow{Key: s.Key, Plan: planName}
		if plan := ev.plans[planName]; plan != nil {
			for i := range plan.Rules {
				r := &plan.Rules[i]
				if r.PerAccount && pol.KeyAccounts[s.Key] != "" {
					continue // counted with the account's other keys
				}
				n, err := ev.evalRule(s.Key, ScopeKey, planName, r, pick(s, filtered, r.Filter), sink, true)
				if err != nil {
					return err
				}
				key.Violations += n
			}
		} else {
			stats.UnplannedKeys++
		}
		var total aggregate.Counters
		for i := range s.Points {
			total.Add(&s.Points[i].Counters)
		}
		key.Requests = total.Requests
		key.FirstSeen = aggregate.Millis(s.Points[0].TimeMillis)
		key.LastSeen = aggregate.Millis(s.Points[len(s.Points)-1].TimeMillis)
		key.Status2xx, key.Status3xx = total.Status2xx, total.Status3xx
		key.Status4xx, key.Status5xx = total.Status4xx, total.Status5xx
		key.Status429, key.BytesSent = total.Status429, total.BytesSent
		return sink.Key(&key)
	})
	if err != nil {
		return stats, err
	}
	return stats, acct.flushUpTo("", sink)
}

// pick returns the series a rule reads: the key's full series, or its
// filtered one (nil when the key has no request in the filter's scope).
func pick(s *aggregate.Series, filtered func(int) *aggregate.Series, f int) *aggregate.Series {
	if f < 0 {
		return s
	}
	return filtered(f)
}

type evaluator struct {
	pol    *Policy
	plans  map[string]*Plan
	report int64
}

// rowSink receives one rule's rows.
type rowSink interface {
	Window(*schema.WindowRow) error
	Violation(*schema.ViolationRow) error
	Audit(*schema.AuditRow) error
}

// evalRule runs rule r over series s (nil: no request in scope) of key,
// emitting report rows and one audit row; it returns the number of
// buckets with an excess.
func (ev *evaluator) evalRule(key, scope, plan string, r *Rule, s *aggregate.Series, out rowSink, windows bool) (int64, error) {
	audit := schema.AuditRow{Key: key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: scope}
	if s != nil && len(s.Points) > 0 {
		gw := newGateway(r)
		var (
			start, end                  int64
			requests, allowed, observed int64
			have                        bool
			win                         schema.WindowRow
			vio                         schema.ViolationRow
		)
		flush := func() error {
			excess := requests - allowed
			caught := min(excess, observed)
			audit.Requests += requests
			audit.Allowed += allowed
			audit.Excess += excess
			audit.Observed429 += observed
			audit.Caught += caught
			audit.Leaked += excess - caught
			audit.FalseThrottles += observed - caught
			if excess > 0 {
				audit.ExceededBuckets++
			}
			if windows && r.Algorithm == Fixed && requests > 0 {
				win = schema.WindowRow{Key: key, LimitName: r.Name, WindowStart: aggregate.Millis(start), WindowEnd: aggregate.Millis(end), Requests: requests}
				if err := out.Window(&win); err != nil {
					return err
				}
			}
			if excess == 0 && observed == 0 {
				return nil
			}
			vio = schema.ViolationRow{
				Key: key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
				WindowStart: aggregate.Millis(start), WindowEnd: aggregate.Millis(end),
				Requests: requests, Allowed: allowed, Excess: excess,
				Observed429: observed, Caught: caught, Leaked: excess - caught, FalseThrottles: observed - caught,
				Scope: scope,
			}
			return out.Violation(&vio)
		}
		for i := range s.Points {
			p := &s.Points[i]
			if !have || p.TimeMillis >= end {
				if have {
					if err := flush(); err != nil {
						return 0, err
					}
				}
				if r.Algorithm == Fixed {
					start, end = r.fixedWindow(p.TimeMillis)
				} else {
					start = windowStart(p.TimeMillis, ev.report)
					end = start + ev.report
				}
				requests, allowed, observed, have = 0, 0, 0, true
			}
			if p.Requests > 0 {
				acc, usage := gw.offer(p.TimeMillis, p.Requests)
				allowed += acc
				audit.PeakUsage = max(audit.PeakUsage, usage)
			}
			requests += p.Requests
			observed += p.Rejected
		}
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return audit.ExceededBuckets, out.Audit(&audit)
}

// walk calls fn for each series of main in key order; filtered(i) returns
// the same key's series in filtered[i], or nil. Each filtered input is
// read in step with main, one key at a time. It stops with ctx's error
// before the first key after ctx is done.
func walk(ctx context.Context, main aggregate.Partials, filtered []aggregate.Partials, fn func(s *aggregate.Series, filtered func(int) *aggregate.Series) error) error {
	all, err := openSeries(main)
	if err != nil {
		return err
	}
	defer all.c.Close()
	readers := make([]*seriesReader, len(filtered))
	for i, p := range filtered {
		if p != nil {
			if readers[i], err = openSeries(p); err != nil {
				return err
			}
			defer readers[i].c.Close()
		}
	}
	var seekErr error
	lookup := func(i int) *aggregate.Series {
		if i >= len(readers) || readers[i] == nil {
			return nil
		}
		s, err := readers[i].seek(all.s.Key)
		if err != nil && seekErr == nil {
			seekErr = err
		}
		return s
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := all.next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := fn(&all.s, lookup); err != nil {
			return err
		}
		if seekErr != nil {
			return seekErr
		}
	}
}

// seriesReader reads a Cursor one series at a time into a buffer of its
// own.
type seriesReader struct {
	c    aggregate.Cursor
	s    aggregate.Series
	have bool // s holds a series
	done bool // c is at its end
}

func openSeries(p aggregate.Partials) (*seriesReader, error) {
	c, err := p.Open()
	if err != nil {
		return nil, err
	}
	return &seriesReader{c: c}, nil
}

// next reads the next series into r.s, or returns io.EOF.
func (r *seriesReader) next() error {
	key, points, err := r.c.Next(r.s.Points[:0])
	r.s.Points = points // the buffer Next gives back is the one to reuse
	r.have = err == nil
	if err != nil {
		r.done = err == io.EOF
		return err
	}
	r.s.Key = key
	return nil
}

// seek advances to key and returns its series, or nil if the input has
// none. Keys must be sought in ascending order.
func (r *seriesReader) seek(key string) (*aggregate.Series, error) {
	for !r.done && (!r.have || r.s.Key < key) {
		if err := r.next(); err != nil && err != io.EOF {
			return nil, err
		}
	}
	if r.have && r.s.Key == key {
		return &r.s, nil
	}
	return nil, nil
}

// accountRows holds the per-account rows, computed before the per-key
// pass and merged into its output by key column.
type accountRows struct{ RowBuffer }

func (a *accountRows) Window(*schema.WindowRow) error { return nil } // windows are per key only

// flushUpTo sends the buffered rows whose key column is <= key ("": all).
func (a *accountRows) flushUpTo(key string, sink Sink) error {
	for len(a.violations) > 0 && (key == "" || a.violations[0].Key <= key) {
		if err := sink.Violation(&a.violations[0]); err != nil {
			return err
		}
		a.violations = a.violations[1:]
	}
	for len(a.audits) > 0 && (key == "" || a.audits[0].Key <= key) {
		if err := sink.Audit(&a.audits[0]); err != nil {
			return err
		}
		a.audits = a.audits[1:]
	}
	return nil
}

// accounts evaluates the per-account rules: it sums the series of each
// account's keys into per-account aggregates (one per filter used) and
// runs each account through the per-account rules of every plan its keys
// are on.
func (ev *evaluator) accounts(ctx context.Context, in Inputs, out *accountRows) error {
	plansOf := map[string][]string{} // account -> plans with per-account rules
	used := map[int]bool{}
	for key, acct := range ev.pol.KeyAccounts {
		if acct == "" {
			continue
		}
		plan := ev.plans[ev.pol.PlanOf(key)]
		if plan == nil {
			continue
		}
		has := false
		for _, r := range plan.Rules {
			if r.PerAccount {
				has = true
				used[r.Filter] = true
			}
		}
		if has && !slices.Contains(plansOf[acct], plan.Name) {
			plansOf[acct] = append(plansOf[acct], plan.Name)
		}
	}
	if len(plansOf) == 0 {
		return nil
	}
	group := func(src aggregate.Partials) (*aggregate.State, error) {
		st := aggregate.NewState()
		if src == nil {
			return st, nil
		}
		r, err := openSeries(src)
		if err != nil {
			return nil, err
		}
		defer r.c.Close()
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := r.next(); err != nil {
				if err == io.EOF {
					return st, nil
				}
				return nil, err
			}
			acct := ev.pol.KeyAccounts[r.s.Key]
			if _, ok := plansOf[acct]; !ok {
				continue
			}
			for i := range r.s.Points {
				st.AddCounters(acct, r.s.Points[i].TimeMillis, &r.s.Points[i].Counters)
			}
		}
	}
	all, err := group(in.All)
	if err != nil {
		return err
	}
	filtered := make([]aggregate.Partials, len(in.Filtered))
	for f := range in.Filtered {
		if used[f] {
			st, err := group(in.Filtered[f])
			if err != nil {
				return err
			}
			filtered[f] = st
		}
	}
	err = walk(ctx, all, filtered, func(s *aggregate.Series, filtered func(int) *aggregate.Series) error {
		plans := plansOf[s.Key]
		slices.Sort(plans)
		for _, name := range plans {
			plan := ev.plans[name]
			for i := range plan.Rules {
				r := &plan.Rules[i]
				if !r.PerAccount {
					continue
				}
				if _, err := ev.evalRule(s.Key, ScopeAccount, name, r, pick(s, filtered, r.Filter), out, false); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// An account's rows come plan by plan; the tables want them by key,
	// limit name, then window.
	slices.SortStableFunc(out.violations, func(a, b schema.ViolationRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName),
			strings.Compare(a.Plan, b.Plan), a.WindowStart.Compare(b.WindowStart))
	})
	slices.SortStableFunc(out.audits, func(a, b schema.AuditRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName), strings.Compare(a.Plan, b.Plan))
	})
	return nil
}
