package policy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

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
	// Rule.Filter indexes them, and bit i of a request class stands for
	// Filters[i].
	Filters []RequestFilter
	// ReportMillis is the report bucket of sliding, token-bucket and
	// leaky-bucket rules (0: one minute).
	ReportMillis int64
	// BillableStatus lists the status classes the usage table counts as
	// billable ("2xx", "3xx", "4xx", "5xx", "429"); nil: the default,
	// DefaultBillable.
	BillableStatus []string `json:",omitempty"`
	// AllWindows lists every window of every fixed per-key rule with a
	// request in the windows table. Without it (the default) a window is
	// listed only once the rule has accepted at least half its limit in
	// it (by the end of the row's date): the windows near or over the
	// limit, not one row per key and second of a per-second limit.
	AllWindows bool `json:",omitempty"`
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

// Options say what an evaluation writes besides the flat reports.
type Options struct {
	// Split is day-partitioned output: every report bucket is cut at UTC
	// date boundaries into one row per date it has requests on, the
	// audit and keys tables get one row per date, the usage table is
	// written, and every row carries its routing Date.
	Split bool
	// Start, if set, holds every scope's state at the start of its date
	// (a checkpoint): the inputs then hold no request before that date,
	// and the evaluation continues from there as if it had read the
	// earlier dates. Needs Split.
	Start StateCursor
	// Checkpoints, if set, receives every scope's state at the start of
	// each of CheckpointDates (UTC midnights, ascending, none before
	// Start's date), omitting states equivalent to a fresh one. Nil
	// CheckpointDates: the dates the inputs have requests on (DatesOf,
	// an extra pass over them). Needs Split.
	Checkpoints     StateWriter
	CheckpointDates []time.Time
	// KeyMap maps the policy's key and account names into the key space
	// of the inputs (their displayed form: the partial aggregate is keyed
	// by displayed keys); account rows carry KeyMap(account). Nil: the
	// names as they are.
	KeyMap func(string) string
}

// Stats summarise an evaluation.
type Stats struct {
	// Keys counts the keys evaluated: the keys table has a row for each,
	// or one for each date of each with Split.
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

// Evaluate runs every key's plan as one ideal gateway over the key's
// requests (a request is accepted only if every rule of the plan that
// counts it accepts it, and is then counted in all of them), reconciles
// its verdicts with the real gateway's once per request, and streams
// the rows to sink (see Sink for their order): windows (fixed, per-key
// rules), violations, audit rows, key rows, false throttles and, with
// Split, usage rows. Invalid rules are an error, never a
// panic. Per-account rules count all keys of an account together;
// their rows carry the account in the key column.
// Inputs may be read twice (once to group accounts, once more for
// DatesOf); memory holds one key's series per class plus the
// per-account aggregates and rows.
// Evaluate stops with ctx's error within a key of ctx being done, in
// either pass.
func Evaluate(ctx context.Context, in Inputs, pol *Policy, opts Options, sink Sink) (Stats, error) {
	ev, err := newEvaluator(pol, opts)
	if err != nil {
		return Stats{}, err
	}
	if err := ev.startCheckpoints(ctx, in); err != nil {
		return Stats{}, err
	}
	var acct accountRows
	if err := ev.accounts(ctx, in, &acct); err != nil {
		return Stats{}, err
	}
	w, err := openClasses(in, len(pol.Filters))
	if err != nil {
		return Stats{}, err
	}
	defer w.close()
	var stats Stats
	sc := &scopeRun{ev: ev}
	err = ev.eachScope(ctx, w, ScopeKey, func(key string, w *classWalker, st *ScopeState) error {
		if err := acct.flushUpTo(key, sink); err != nil {
			return err
		}
		return ev.key(sc, key, w, st, sink, &stats)
	})
	if err != nil {
		return stats, err
	}
	return stats, acct.flushUpTo("", sink)
}

// eachScope calls fn for every scope of kind scope that has requests in w
// or a start state, in key order, with w at its series (nil w: it has no
// request) and its start state (nil: fresh). A key with no request still
// carries its state to the checkpoints. Accounts' states come before
// keys': the key pass finding one means the policy has no per-account
// rule for it.
func (ev *evaluator) eachScope(ctx context.Context, w *classWalker, scope string, fn func(key string, w *classWalker, st *ScopeState) error) error {
	more, err := w.next()
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var st *ScopeState
		if st, err = ev.start.peek(); err != nil {
			break
		}
		if st != nil && st.Scope != scope {
			if scope == ScopeKey {
				return fmt.Errorf("policy: start state of an account (%s) the policy has no per-account rule for", st.Key)
			}
			st = nil // the keys' states: the key pass's
		}
		switch {
		case more && (st == nil || w.key <= st.Key):
			if st != nil && st.Key != w.key {
				st = nil
			}
			if st != nil {
				ev.start.take()
			}
			if err = fn(w.key, w, st); err == nil {
				more, err = w.next()
			}
		case st != nil:
			ev.start.take()
			err = fn(st.Key, nil, st)
		default:
			return nil
		}
	}
	return err
}

// evaluator is one evaluation's compiled policy and options.
type evaluator struct {
	pol    *Policy
	opts   Options
	plans  map[string]*Plan // rules sorted by name
	report int64
	// keyPlans and keyAccounts are the policy's maps in the inputs' key
	// space (Options.KeyMap).
	keyPlans    map[string]string
	keyAccounts map[string]string
	billable    [5]bool // 2xx, 3xx, 4xx, 5xx, 429
	start       *startStates
	startMs     int64   // Start's date
	cpDays      []int64 // checkpoint dates, days since the epoch
	cpCur       int64   // the date Checkpoints is on
}

func newEvaluator(pol *Policy, opts Options) (*evaluator, error) {
	ev := &evaluator{pol: pol, opts: opts, report: pol.ReportMillis, plans: map[string]*Plan{},
		keyPlans: pol.KeyPlans, keyAccounts: pol.KeyAccounts, startMs: minInt64, cpCur: minInt64}
	if ev.report <= 0 {
		ev.report = 60_000
	}
	for name, p := range pol.Plans {
		q := &Plan{Name: p.Name, Rules: slices.Clone(p.Rules)}
		for i := range q.Rules {
			if err := q.Rules[i].Validate(); err != nil {
				return nil, fmt.Errorf("policy: plan %s, limit %s: %w", name, q.Rules[i].Name, err)
			}
			if f := q.Rules[i].Filter; f >= len(pol.Filters) || f >= 64 {
				return nil, fmt.Errorf("policy: plan %s, limit %s: no request filter %d", name, q.Rules[i].Name, f)
			}
		}
		slices.SortStableFunc(q.Rules, func(a, b Rule) int { return strings.Compare(a.Name, b.Name) })
		ev.plans[name] = q
	}
	var err error
	if ev.billable, err = billableClasses(pol.BillableStatus); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if opts.KeyMap != nil {
		if ev.keyPlans, err = mapNames(pol.KeyPlans, opts.KeyMap, false); err != nil {
			return nil, err
		}
		if ev.keyAccounts, err = mapNames(pol.KeyAccounts, opts.KeyMap, true); err != nil {
			return nil, err
		}
	}
	if (opts.Start != nil || opts.Checkpoints != nil) && !opts.Split {
		return nil, fmt.Errorf("policy: start states and checkpoints need Split (day-partitioned output)")
	}
	if opts.Start != nil {
		if ev.startMs, err = dayStart(opts.Start.Date()); err != nil {
			return nil, fmt.Errorf("policy: start states: %w", err)
		}
		ev.start = &startStates{c: opts.Start}
	}
	return ev, nil
}

// mapNames maps the keys of m (and, for accounts, its values) through
// km, failing when two names map to one with different meanings.
func mapNames(m map[string]string, km func(string) string, values bool) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if values && v != "" {
			v = km(v)
		}
		mk := km(k)
		if prev, ok := out[mk]; ok && prev != v {
			return nil, fmt.Errorf("policy: two keys of the policy are displayed alike (%s) but have different plans or accounts", mk)
		}
		out[mk] = v
	}
	return out, nil
}

// planOf returns the plan of key (in the inputs' key space).
func (ev *evaluator) planOf(key string) string {
	if pl, ok := ev.keyPlans[key]; ok {
		return pl
	}
	return ev.pol.DefaultPlan
}

// startCheckpoints resolves the checkpoint dates and announces each to
// the writer, so that it has every date, even one without a state.
func (ev *evaluator) startCheckpoints(ctx context.Context, in Inputs) error {
	cp := ev.opts.Checkpoints
	if cp == nil {
		return nil
	}
	if ev.opts.CheckpointDates == nil {
		days, err := daysOf(ctx, in)
		if err != nil {
			return err
		}
		ev.cpDays = days
	}
	for i, d := range ev.opts.CheckpointDates {
		ms, err := dayStart(d)
		if err != nil {
			return fmt.Errorf("policy: checkpoint %w", err)
		}
		ev.cpDays = append(ev.cpDays, ms/dayMillis)
		if i > 0 && ev.cpDays[i] <= ev.cpDays[i-1] {
			return fmt.Errorf("policy: checkpoint dates not ascending")
		}
	}
	for _, d := range ev.cpDays {
		if d*dayMillis < ev.startMs {
			return fmt.Errorf("policy: checkpoint date %s before the start states' date", aggregate.Millis(d*dayMillis).Format(time.DateOnly))
		}
		if err := cp.Date(aggregate.Millis(d * dayMillis)); err != nil {
			return err
		}
		ev.cpCur = d
	}
	return nil
}

// key evaluates one key: its series in w's current classes (nil w: no
// request), from state st (nil: fresh).
func (ev *evaluator) key(sc *scopeRun, key string, w *classWalker, st *ScopeState, sink Sink, stats *Stats) error {
	planName := ev.planOf(key)
	plan := ev.plans[planName]
	sc.reset(ScopeKey, key)
	if plan != nil {
		for i := range plan.Rules {
			r := &plan.Rules[i]
			if r.PerAccount && ev.keyAccounts[key] != "" {
				continue // counted with the account's other keys
			}
			sc.add(planName, r, true)
		}
	}
	if err := sc.run(w, st, sink); err != nil {
		return err
	}
	if w == nil || len(w.all()) == 0 {
		return nil
	}
	stats.Keys++
	if plan == nil {
		stats.UnplannedKeys++
	}
	if err := sc.keyRows(planName, sink); err != nil {
		return err
	}
	if ev.opts.Split {
		return sc.usageRows(planName, sink)
	}
	return nil
}

// seriesReader reads a Cursor one series at a time into a buffer of its
// own.
type seriesReader struct {
	c    aggregate.Cursor
	s    aggregate.Series
	have bool // s holds a series
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
		return err
	}
	r.s.Key = key
	return nil
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
	for len(a.usages) > 0 && (key == "" || a.usages[0].Key <= key) {
		if err := sink.Usage(&a.usages[0]); err != nil {
			return err
		}
		a.usages = a.usages[1:]
	}
	return nil
}

// accounts evaluates the per-account rules: it sums the series of each
// account's keys into per-account aggregates (one per request class) and
// runs each account through the per-account rules of every plan its keys
// are on.
func (ev *evaluator) accounts(ctx context.Context, in Inputs, out *accountRows) error {
	plansOf := map[string][]string{} // account -> plans with per-account rules
	for key, acct := range ev.keyAccounts {
		if acct == "" {
			continue
		}
		plan := ev.plans[ev.planOf(key)]
		if plan == nil {
			continue
		}
		if slices.ContainsFunc(plan.Rules, func(r Rule) bool { return r.PerAccount }) && !slices.Contains(plansOf[acct], plan.Name) {
			plansOf[acct] = append(plansOf[acct], plan.Name)
		}
	}
	st, err := ev.start.peek()
	if err != nil {
		return err
	}
	if len(plansOf) == 0 && (st == nil || st.Scope != ScopeAccount) {
		return nil
	}
	grouped, err := ev.groupAccounts(ctx, in, plansOf)
	if err != nil {
		return err
	}
	w, err := openClasses(grouped, len(ev.pol.Filters))
	if err != nil {
		return err
	}
	defer w.close()
	sc := &scopeRun{ev: ev}
	run := func(acct string, w *classWalker, st *ScopeState) error {
		plans, ok := plansOf[acct]
		if !ok {
			return fmt.Errorf("policy: start state of an account (%s) the policy has no per-account rule for", acct)
		}
		slices.Sort(plans)
		sc.reset(ScopeAccount, acct)
		for _, name := range plans {
			plan := ev.plans[name]
			for i := range plan.Rules {
				if plan.Rules[i].PerAccount {
					sc.add(name, &plan.Rules[i], false)
				}
			}
		}
		if err := sc.run(w, st, out); err != nil {
			return err
		}
		if ev.opts.Split && w != nil && len(w.all()) > 0 {
			return sc.usageRows("", out)
		}
		return nil
	}
	if err := ev.eachScope(ctx, w, ScopeAccount, run); err != nil {
		return err
	}
	ev.sortAccountRows(out)
	return nil
}

// groupAccounts sums the series of the keys of the accounts in plansOf
// per account, class by class.
func (ev *evaluator) groupAccounts(ctx context.Context, in Inputs, plansOf map[string][]string) (Inputs, error) {
	w, err := openClasses(in, len(ev.pol.Filters))
	if err != nil {
		return Inputs{}, err
	}
	defer w.close()
	states := map[aggregate.Class]*aggregate.State{}
	for {
		if err := ctx.Err(); err != nil {
			return Inputs{}, err
		}
		more, err := w.next()
		if err != nil {
			return Inputs{}, err
		}
		if !more {
			break
		}
		acct := ev.keyAccounts[w.key]
		if _, ok := plansOf[acct]; !ok {
			continue
		}
		for _, i := range w.present {
			c := w.classes[i]
			st := states[c]
			if st == nil {
				st = aggregate.NewState()
				states[c] = st
			}
			s := &w.readers[i].s
			for j := range s.Points {
				st.AddCounters(acct, s.Points[j].TimeMillis, &s.Points[j].Counters)
			}
		}
	}
	var out Inputs
	for c, st := range states {
		out.Classes = append(out.Classes, ClassPartials{Class: c, Partials: st})
	}
	return out, nil
}

// sortAccountRows puts an account's rows, which come plan by plan, in
// the tables' order: key, limit name, plan, then as they came (window,
// date).
func (ev *evaluator) sortAccountRows(out *accountRows) {
	slices.SortStableFunc(out.violations, func(a, b schema.ViolationRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName), strings.Compare(a.Plan, b.Plan))
	})
	slices.SortStableFunc(out.audits, func(a, b schema.AuditRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName), strings.Compare(a.Plan, b.Plan))
	})
	slices.SortStableFunc(out.usages, func(a, b schema.UsageRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName), strings.Compare(a.Plan, b.Plan))
	})
}

// startStates reads Options.Start one scope at a time, checking the
// canonical order.
type startStates struct {
	c         StateCursor
	cur       *ScopeState
	ok, done  bool
	prevScope string
	prevKey   string
	n         int
}

// peek returns the next state not yet taken, or nil at the end (or
// without start states).
func (s *startStates) peek() (*ScopeState, error) {
	if s == nil || s.done {
		return nil, nil
	}
	if !s.ok {
		st, err := s.c.Next()
		if err == io.EOF {
			s.done = true
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if st.Scope != ScopeAccount && st.Scope != ScopeKey {
			return nil, fmt.Errorf("policy: start state %d: unknown scope %q", s.n, st.Scope)
		}
		if s.n > 0 && cmp.Or(strings.Compare(st.Scope, s.prevScope), strings.Compare(st.Key, s.prevKey)) <= 0 {
			return nil, fmt.Errorf("policy: start state %d out of order", s.n)
		}
		s.cur, s.ok, s.prevScope, s.prevKey = st, true, st.Scope, st.Key
		s.n++
	}
	return s.cur, nil
}

// take consumes the state peek returned.
func (s *startStates) take() { s.ok = false }
