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
		for p := range plans {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount {
					sc.rule(p, r, false)
				}
			}
		}
		sc.usage("")
	}
	for key, rs := range byKey {
		p := pol.PlanOf(key)
		sc := refScope{pol: pol, scope: ScopeKey, key: key, reqs: rs, report: report, split: split, out: exp}
		if p != "" {
			for _, r := range pol.Plans[p].Rules {
				if r.PerAccount && pol.KeyAccounts[key] != "" {
					continue
				}
				sc.rule(p, r, true)
			}
		}
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
	exceeded   map[int64]int64 // by date (0 unsplit): buckets first exceeded
	quotas     []refQuota
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

// rule evaluates one rule over the scope's requests.
func (sc *refScope) rule(plan string, r Rule, windows bool) {
	var view []req
	for _, q := range sc.reqs {
		if r.Filter < 0 || testCounted(q) {
			view = append(view, q)
		}
	}
	slices.SortStableFunc(view, func(a, b req) int { return cmp.Compare(a.t, b.t) })
	times := make([]int64, len(view))
	for i, q := range view {
		times[i] = q.t
	}
	acc := refAccept(&r, times)
	type part struct{ requests, allowed, observed int64 }
	type bucket struct {
		start, end, first int64
		parts             map[int64]*part
	}
	buckets := map[int64]*bucket{}
	var starts []int64
	for i, q := range view {
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
		if acc[i] {
			p.allowed++
		} else if b.first == NoTime {
			b.first = q.t
		}
		if q.rejected {
			p.observed++
		}
	}
	audits := map[int64]*schema.AuditRow{}
	for _, d := range sc.dates() {
		audits[d] = &schema.AuditRow{Key: sc.key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: sc.scope, Date: routing(d, sc.split)}
	}
	if sc.exceeded == nil {
		sc.exceeded = map[int64]int64{}
	}
	for _, s := range starts {
		b := buckets[s]
		if b.first != NoTime {
			audits[sc.dateOf(b.first)].ExceededBuckets++
			sc.exceeded[sc.dateOf(b.first)]++
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
			excess := p.requests - p.allowed
			caught := min(excess, p.observed)
			a := audits[d]
			a.Requests += p.requests
			a.Allowed += p.allowed
			a.Excess += excess
			a.GatewayRejected += p.observed
			a.Caught += caught
			a.Leaked += excess - caught
			a.FalseThrottles += p.observed - caught
			if windows && r.Algorithm == Fixed && p.requests > 0 {
				sc.out.windows = append(sc.out.windows, schema.WindowRow{Key: sc.key, Plan: plan, LimitName: r.Name,
					WindowStart: time.UnixMilli(b.start).UTC(), WindowEnd: time.UnixMilli(b.end).UTC(), Requests: p.requests, Date: routing(d, sc.split)})
			}
			if excess > 0 || p.observed > 0 {
				v := schema.ViolationRow{Key: sc.key, Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
					WindowStart: time.UnixMilli(b.start).UTC(), WindowEnd: time.UnixMilli(b.end).UTC(),
					Requests: p.requests, Allowed: p.allowed, Excess: excess,
					GatewayRejected: p.observed, Caught: caught, Leaked: excess - caught, FalseThrottles: p.observed - caught,
					Scope: sc.scope, Date: routing(d, sc.split)}
				if b.first != NoTime && b.first < end { // known by the end of the part
					v.FirstExceeded = time.UnixMilli(b.first).UTC()
				}
				sc.out.violations = append(sc.out.violations, v)
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
			for i, v := range view {
				if acc[i] && v.t < d+dayMillis && refWindowStart(&r, v.t).UnixMilli() == period {
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
		k.Key, k.Plan, k.Violations, k.Date = sc.key, plan, sc.exceeded[d], routing(d, sc.split)
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
// usage, which the reference does not compute, must be above 1 exactly
// where the row has an excess.
func compareRows(t *testing.T, iter int, got, want *RowBuffer) {
	t.Helper()
	for i := range got.audits {
		if a := got.audits[i]; (a.PeakUsage > 1) != (a.Excess > 0) {
			t.Fatalf("case %d: audit %+v: peak usage and excess disagree", iter, a)
		}
	}
	audits := slices.Clone(got.audits)
	for i := range audits {
		audits[i].PeakUsage = 0
	}
	diff(t, iter, "violations", got.violations, want.violations)
	diff(t, iter, "windows", got.windows, want.windows)
	diff(t, iter, "audits", audits, want.audits)
	diff(t, iter, "keys", got.keys, want.keys)
	diff(t, iter, "usage", usageValues(got.usages), usageValues(want.usages))
}
