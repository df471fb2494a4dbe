package policy

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report/schema"
)

// refEvaluate evaluates a whole case request by request with the
// reference gateways (reference_test.go), building every table the way
// docs/schema.md defines it, with none of the engine's structure: no
// streaming, no states, no parts carried from date to date. With split,
// buckets are cut at UTC dates as day-partitioned output wants.
func refEvaluate(pol *Policy, reqs []req, split bool) *RowBuffer {
	exp := &RowBuffer{}
	report := pol.ReportMillis
	if report <= 0 {
		report = 60_000
	}
	byKey := map[string][]req{}
	byAcct := map[string][]req{}
	for _, q := range reqs {
		byKey[q.key] = append(byKey[q.key], q)
		if a := pol.KeyAccounts[q.key]; a != "" {
			byAcct[a] = append(byAcct[a], q)
		}
	}
	for acct, rs := range byAcct {
		plans := map[string]bool{}
		for k, a := range pol.KeyAccounts {
			if a == acct && pol.PlanOf(k) != "" {
				plans[pol.PlanOf(k)] = true
			}
		}
		sc := refScope{pol: pol, scope: ScopeAccount, key: acct, reqs: rs, report: report, split: split, out: exp}
		var rules []refRule
		for p := range plans {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount {
					rules = append(rules, refRule{plan: p, r: r})
				}
			}
		}
		sc.plan(rules)
		sc.usage("")
	}
	for key, rs := range byKey {
		p := pol.PlanOf(key)
		sc := refScope{pol: pol, scope: ScopeKey, key: key, reqs: rs, report: report, split: split, out: exp}
		var rules []refRule
		if p != "" {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount && pol.KeyAccounts[key] != "" {
					continue
				}
				rules = append(rules, refRule{plan: p, r: r, windows: true})
			}
		}
		sc.plan(rules)
		sc.keys(p)
		sc.usage(p)
	}
	sortRows(exp)
	return exp
}

// sortRows puts rows in the tables' declared order, by date last.
func sortRows(b *RowBuffer) {
	slices.SortStableFunc(b.windows, func(a, b schema.WindowRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.LimitName, b.LimitName),
			a.WindowStart.Compare(b.WindowStart), a.Date.Compare(b.Date))
	})
	slices.SortStableFunc(b.violations, func(a, b schema.ViolationRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Scope, b.Scope), strings.Compare(a.LimitName, b.LimitName),
			strings.Compare(a.Plan, b.Plan), a.WindowStart.Compare(b.WindowStart), a.Date.Compare(b.Date))
	})
	slices.SortStableFunc(b.audits, func(a, b schema.AuditRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Scope, b.Scope), strings.Compare(a.LimitName, b.LimitName),
			strings.Compare(a.Plan, b.Plan), a.Date.Compare(b.Date))
	})
	slices.SortStableFunc(b.keys, func(a, b schema.KeyRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Date.Compare(b.Date))
	})
	slices.SortStableFunc(b.falses, func(a, b schema.FalseThrottleRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.WindowStart.Compare(b.WindowStart), a.Date.Compare(b.Date))
	})
	slices.SortStableFunc(b.usages, func(a, b schema.UsageRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Scope, b.Scope), strings.Compare(a.LimitName, b.LimitName),
			strings.Compare(a.Plan, b.Plan), a.Date.Compare(b.Date))
	})
}

// refScope is one key's or account's requests and what its rules found.
type refScope struct {
	pol        *Policy
	scope, key string
	reqs       []req
	report     int64
	split      bool
	out        *RowBuffer
	quotas     []refQuota
	// By date (0 unsplit): the scope's violation rows, the plan's
	// rejections, and the real rejections that caught one; whether the
	// scope has a rule.
	violations, rejected, caught map[int64]int64
	ruled                        bool
}

// refRule is one rule a scope is evaluated under.
type refRule struct {
	plan    string
	r       Rule
	windows bool
}

// refVerdict is the plan's verdict on one request: accepted, or the
// rules (by index) that refused it.
type refVerdict struct {
	accepted bool
	refused  []int
}

type refQuota struct {
	plan string
	r    Rule
	used map[int64]int64 // by date: accepted in the date's period up to its end
}

// dateOf is the routing date of time t (0 without split).
func (sc *refScope) dateOf(t int64) int64 {
	if !sc.split {
		return 0
	}
	return time.UnixMilli(t).UTC().Truncate(24 * time.Hour).UnixMilli()
}

// dates are the dates the scope has requests on, ascending (one, 0,
// without split).
func (sc *refScope) dates() []int64 {
	var ds []int64
	for _, q := range sc.reqs {
		if d := sc.dateOf(q.t); !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds
}

func routing(d int64, split bool) time.Time {
	if !split {
		return time.Time{}
	}
	return time.UnixMilli(d).UTC()
}

// plan evaluates the scope's requests under rules as one gateway,
// request by request in the canonical order (time, then request class:
// the unscoped requests before those the filter counts), and builds the
// rules' rows and the scope's reconciliation.
func (sc *refScope) plan(rules []refRule) {
	reqs := slices.Clone(sc.reqs)
	class := func(q req) int {
		if testCounted(q) {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(reqs, func(a, b req) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(class(a), class(b))) })
	counts := func(r *Rule, q req) bool { return r.Filter < 0 || testCounted(q) }
	gates := make([]refGate, len(rules))
	for k := range rules {
		gates[k] = newRefGate(&rules[k].r)
	}
	verdicts := make([]refVerdict, len(reqs))
	for i, q := range reqs {
		v := &verdicts[i]
		for k := range rules {
			if counts(&rules[k].r, q) && !gates[k].fits(q.t) {
				v.refused = append(v.refused, k)
			}
		}
		v.accepted = len(v.refused) == 0
		if v.accepted {
			for k := range rules {
				if counts(&rules[k].r, q) {
					gates[k].commit(q.t)
				}
			}
		}
	}
	// Reconciliation: per instant and class, caught = min(plan's
	// rejections, real rejections).
	type group struct{ n, rejected, real int64 }
	groups := map[[2]int64]*group{}
	for i, q := range reqs {
		g := groups[[2]int64{q.t, int64(class(q))}]
		if g == nil {
			g = &group{}
			groups[[2]int64{q.t, int64(class(q))}] = g
		}
		g.n++
		if !verdicts[i].accepted {
			g.rejected++
		}
		if q.rejected {
			g.real++
		}
	}
	caughtOf := func(q req) int64 {
		g := groups[[2]int64{q.t, int64(class(q))}]
		return min(g.rejected, g.real)
	}
	sc.violations, sc.rejected, sc.caught = map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
	sc.ruled = len(rules) > 0
	if sc.ruled && sc.scope == ScopeKey {
		for key, g := range groups {
			d := sc.dateOf(key[0])
			sc.rejected[d] += g.rejected
			sc.caught[d] += min(g.rejected, g.real)
		}
		sc.falseThrottles(rules[0].plan, reqs, groups2(groups, func(g *group) [3]int64 { return [3]int64{g.n, g.rejected, g.real} }))
	}
	for k := range rules {
		sc.rule(k, rules[k], reqs, verdicts, counts, class, caughtOf)
	}
}

// groups2 turns the groups into plain counts (n, rejected, real).
func groups2[G any](m map[[2]int64]*G, f func(*G) [3]int64) map[[2]int64][3]int64 {
	out := map[[2]int64][3]int64{}
	for k, g := range m {
		out[k] = f(g)
	}
	return out
}

// falseThrottles builds the key's false-throttle rows: per report
// bucket (cut at dates with split), the real rejections no plan
// rejection at the same instant and class accounts for.
func (sc *refScope) falseThrottles(plan string, reqs []req, groups map[[2]int64][3]int64) {
	type part struct{ start, date int64 }
	rows := map[part]*schema.FalseThrottleRow{}
	var order []part
	for key, g := range groups {
		t := key[0]
		s := t - ((t%sc.report)+sc.report)%sc.report
		pt := part{s, sc.dateOf(t)}
		r := rows[pt]
		if r == nil {
			r = &schema.FalseThrottleRow{Key: sc.key, Plan: plan, WindowStart: time.UnixMilli(s).UTC(),
				WindowEnd: time.UnixMilli(s + sc.report).UTC(), Date: routing(pt.date, sc.split)}
			rows[pt] = r
			order = append(order, pt)
		}
		r.Requests += g[0]
		r.Rejected += g[1]
		r.GatewayRejected += g[2]
		r.FalseThrottles += g[2] - min(g[1], g[2])
	}
	for _, pt := range order {
		if r := rows[pt]; r.FalseThrottles > 0 {
			sc.out.falses = append(sc.out.falses, *r)
		}
	}
}

// rule builds rule k's rows from the plan's verdicts.
func (sc *refScope) rule(k int, rr refRule, reqs []req, verdicts []refVerdict, counts func(*Rule, req) bool, class func(req) int, caughtOf func(req) int64) {
	r, plan, windows := rr.r, rr.plan, rr.windows
	type part struct{ requests, allowed, excess, observed int64 }
	type bucket struct {
		start, end, first int64
		parts             map[int64]*part
	}
	buckets := map[int64]*bucket{}
	var starts []int64
	// refused counts, per instant and class, the requests this rule
	// refused: its share of the plan's rejections there.
	refused := map[[2]int64]int64{}
	var used []int // the requests the rule counts
	for i, q := range reqs {
		if !counts(&r, q) {
			continue
		}
		used = append(used, i)
		if slices.Contains(verdicts[i].refused, k) {
			refused[[2]int64{q.t, int64(class(q))}]++
		}
	}
	caught := map[[2]int64]int64{}
	for _, i := range used {
		q := reqs[i]
		var s, e int64
		if r.Algorithm == Fixed {
			ws := refWindowStart(&r, q.t)
			s, e = ws.UnixMilli(), refWindowEnd(&r, ws).UnixMilli()
		} else {
			s = q.t - ((q.t%sc.report)+sc.report)%sc.report
			e = s + sc.report
		}
		b := buckets[s]
		if b == nil {
			b = &bucket{start: s, end: e, first: NoTime, parts: map[int64]*part{}}
			buckets[s] = b
			starts = append(starts, s)
		}
		d := sc.dateOf(q.t)
		p := b.parts[d]
		if p == nil {
			p = &part{}
			b.parts[d] = p
		}
		p.requests++
		if verdicts[i].accepted {
			p.allowed++
		}
		if slices.Contains(verdicts[i].refused, k) {
			p.excess++
			if b.first == NoTime {
				b.first = q.t
			}
		}
		if q.rejected {
			p.observed++
		}
		g := [2]int64{q.t, int64(class(q))}
		if _, done := caught[g]; !done {
			caught[g] = min(refused[g], caughtOf(q))
		}
	}
	// The caught of each part: its groups' (a group lies in one part).
	partCaught := map[[2]int64]int64{} // (bucket start, date)
	for g, c := range caught {
		t := g[0]
		var s int64
		if r.Algorithm == Fixed {
			s = refWindowStart(&r, t).UnixMilli()
		} else {
			s = t - ((t%sc.report)+sc.report)%sc.report
		}
		partCaught[[2]int64{s, sc.dateOf(t)}] += c
	}
	audits := map[int64]*schema.AuditRow{}
	for _, d := range sc.dates() {
		audits[d] = &schema.AuditRow{Key: sc.key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: sc.scope, Date: routing(d, sc.split)}
	}
	for _, s := range starts {
		b := buckets[s]
		if b.first != NoTime {
			audits[sc.dateOf(b.first)].ExceededBuckets++
		}
		var days []int64
		for d := range b.parts {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			p := b.parts[d]
			end := b.end
			if sc.split {
				end = min(end, d+dayMillis)
			}
			c := partCaught[[2]int64{s, d}]
			a := audits[d]
			a.Requests += p.requests
			a.Allowed += p.allowed
			a.Excess += p.excess
			a.GatewayRejected += p.observed
			a.Caught += c
			a.Leaked += p.excess - c
			accepted := int64(0) // in the window by the end of the part
			for _, i := range used {
				if q := reqs[i]; verdicts[i].accepted && q.t >= b.start && q.t < end && q.t < b.end {
					accepted++
				}
			}
			if windows && r.Algorithm == Fixed && p.requests > 0 && (sc.pol.AllWindows || 2*accepted >= r.Limit) {
				sc.out.windows = append(sc.out.windows, schema.WindowRow{Key: sc.key, Plan: plan, LimitName: r.Name,
					WindowStart: time.UnixMilli(b.start).UTC(), WindowEnd: time.UnixMilli(b.end).UTC(), Requests: p.requests, Date: routing(d, sc.split)})
			}
			if p.excess > 0 {
				v := schema.ViolationRow{Key: sc.key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
					WindowStart: time.UnixMilli(b.start).UTC(), WindowEnd: time.UnixMilli(b.end).UTC(),
					Requests: p.requests, Allowed: p.allowed, Excess: p.excess,
					GatewayRejected: p.observed, Caught: c, Leaked: p.excess - c,
					Scope: sc.scope, Date: routing(d, sc.split)}
				if b.first != NoTime && b.first < end { // known by the end of the part
					v.FirstExceeded = time.UnixMilli(b.first).UTC()
				}
				sc.out.violations = append(sc.out.violations, v)
				sc.violations[d]++
			}
		}
	}
	for _, d := range sc.dates() {
		sc.out.audits = append(sc.out.audits, *audits[d])
	}
	if sc.split && isQuota(&r) {
		q := refQuota{plan: plan, r: r, used: map[int64]int64{}}
		for _, d := range sc.dates() {
			period := refWindowStart(&r, d).UnixMilli()
			for _, i := range used {
				v := reqs[i]
				if verdicts[i].accepted && v.t < d+dayMillis && refWindowStart(&r, v.t).UnixMilli() == period {
					q.used[d]++
				}
			}
		}
		sc.quotas = append(sc.quotas, q)
	}
}

// total sums the scope's requests on date d (all dates: 0 without split).
func (sc *refScope) total(d int64) (k schema.KeyRow) {
	k.FirstSeen = time.UnixMilli(maxInt64).UTC()
	for _, q := range sc.reqs {
		if sc.dateOf(q.t) != d {
			continue
		}
		k.Requests++
		switch q.status / 100 {
		case 2:
			k.Status2xx++
		case 3:
			k.Status3xx++
		case 4:
			k.Status4xx++
		case 5:
			k.Status5xx++
		}
		if q.status == 429 {
			k.Status429++
		}
		if q.rejected {
			k.GatewayRejected++
		}
		if t := time.UnixMilli(q.t).UTC(); t.Before(k.FirstSeen) {
			k.FirstSeen = t
		}
		if t := time.UnixMilli(q.t).UTC(); t.After(k.LastSeen) || k.Requests == 1 {
			k.LastSeen = t
		}
	}
	return k
}

func (sc *refScope) keys(plan string) {
	for _, d := range sc.dates() {
		k := sc.total(d)
		k.Key, k.Plan, k.Violations, k.Date = sc.key, plan, sc.violations[d], routing(d, sc.split)
		k.Rejected, k.Caught, k.Leaked = sc.rejected[d], sc.caught[d], sc.rejected[d]-sc.caught[d]
		if sc.ruled {
			k.FalseThrottles = k.GatewayRejected - k.Caught
		}
		sc.out.keys = append(sc.out.keys, k)
	}
}

// usage writes the usage rows (split only); plan is a key's plan.
func (sc *refScope) usage(plan string) {
	if !sc.split {
		return
	}
	billable := func(k *schema.KeyRow) int64 {
		set := sc.pol.BillableStatus
		if set == nil {
			set = DefaultBillable
		}
		var n int64
		for _, s := range set {
			n += map[string]int64{"2xx": k.Status2xx, "3xx": k.Status3xx, "4xx": k.Status4xx, "5xx": k.Status5xx, "429": k.Status429}[s]
		}
		return n
	}
	for _, d := range sc.dates() {
		k := sc.total(d)
		if len(sc.quotas) == 0 && sc.scope == ScopeKey {
			sc.out.usages = append(sc.out.usages, schema.UsageRow{Key: sc.key, Plan: plan, Requests: k.Requests,
				BillableRequests: billable(&k), Scope: sc.scope, Date: routing(d, true)})
		}
		for _, q := range sc.quotas {
			start := refWindowStart(&q.r, d)
			quota, used := q.r.Limit, q.used[d]
			remaining := max(0, quota-used)
			sc.out.usages = append(sc.out.usages, schema.UsageRow{Key: sc.key, Plan: q.plan, LimitName: q.r.Name,
				PeriodStart: start, PeriodEnd: refWindowEnd(&q.r, start), Quota: &quota, Requests: k.Requests,
				BillableRequests: billable(&k), Used: &used, Remaining: &remaining, Scope: sc.scope, Date: routing(d, true)})
		}
	}
}

// usageValue is a usage row with its nullable numbers as values (-1:
// null), comparable with ==.
type usageValue struct {
	schema.UsageRow
	quota, used, remaining int64
}

func usageValues(rows []schema.UsageRow) []usageValue {
	val := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	out := make([]usageValue, len(rows))
	for i, r := range rows {
		out[i] = usageValue{r, val(r.Quota), val(r.Used), val(r.Remaining)}
		out[i].Quota, out[i].Used, out[i].Remaining = nil, nil, nil
	}
	return out
}

// compareRows checks the engine's rows against the reference's; peak
// usage, which the reference does not compute, must be above 100%
// exactly where the limit refused a request.
func compareRows(t *testing.T, iter int, got, want *RowBuffer) {
	t.Helper()
	for i := range got.audits {
		if a := got.audits[i]; (a.PeakUsagePct > 100) != (a.Excess > 0) {
			t.Fatalf("case %d: audit %+v: peak usage and excess disagree", iter, a)
		}
	}
	audits := slices.Clone(got.audits)
	for i := range audits {
		audits[i].PeakUsagePct = 0
	}
	diff(t, iter, "violations", got.violations, want.violations)
	diff(t, iter, "windows", got.windows, want.windows)
	diff(t, iter, "audits", audits, want.audits)
	diff(t, iter, "keys", got.keys, want.keys)
	diff(t, iter, "usage", usageValues(got.usages), usageValues(want.usages))
	diff(t, iter, "false_throttles", got.falses, want.falses)
}
