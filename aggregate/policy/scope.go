package policy

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// rowSink receives one scope's rows: a Sink, or the buffer of the
// account rows.
type rowSink interface {
	Window(*schema.WindowRow) error
	Violation(*schema.ViolationRow) error
	Audit(*schema.AuditRow) error
	Usage(*schema.UsageRow) error
	FalseThrottle(*schema.FalseThrottleRow) error
}

// scopeRun evaluates one scope, a key or an account, over its series:
// each rule of its plan (or, for an account, of each of its plans) keeps
// a gateway state with the report buckets that go with it (a ruleRun),
// and together they are the scope's plan-level gateway, which decides
// each request once (walk); the scope collects what its key, usage and
// false-throttle rows and its checkpoints need.
// One scopeRun is reused from scope to scope, rules' runs and gateways
// included, so that a key costs no allocation once the buffers have
// grown.
type scopeRun struct {
	ev    *evaluator
	scope string
	key   string
	rules []scopeRule
	// starts[k] is rules[k]'s start state, or nil.
	starts []*RuleState

	// With Split: the dates the scope has requests on (days since the
	// epoch), their totals, and per quota rule per date what the quota
	// had accepted from its period's start to the date's end. Without:
	// the run's totals.
	days   []int64
	totals []dayTotal
	used   [][]int64
	nquota int
	all    dayTotal

	// The walk: the scope's series per request class, and each rule's
	// room at the current instant.
	heads []classHead
	rooms []int64
	// The reconciliation: the date (index into days) and the report
	// bucket being summed into the false-throttles table.
	rdi int
	ft  falseBucket

	// cps[i] holds the rules' states at the start of checkpoint date i
	// (evaluator.cpDays), for i in cpLo..cpHi.
	cps        [][]RuleState
	cpLo, cpHi int
	state      ScopeState

	runs []ruleRun // by rule
	key1 schema.KeyRow
	use  schema.UsageRow
	slab [][3]int64 // where usage rows' nullable numbers live
}

// scopeRule is one rule a scope is evaluated under.
type scopeRule struct {
	plan    string
	r       *Rule
	windows bool // the windows table lists its fixed windows (per-key rules)
	quota   int  // its index in scopeRun.used if it is a calendar quota (Split), else -1
}

// dayTotal sums a scope's points over a date (or the run), and its
// reconciliation with the real gateway: requests the plan rejected,
// and of the real gateway's rejections those that caught one (the rest
// are false throttles), and the scope's violation rows.
type dayTotal struct {
	first, last int64
	c           aggregate.Counters
	rejected    int64
	caught      int64
	violations  int64
}

// classHead is one request class's series in the walk, and the rules
// (by index) that count its requests.
type classHead struct {
	class aggregate.Class
	pts   []aggregate.Point
	i     int
	rules []int
}

// falseBucket sums one report bucket (its part on one date, with Split)
// of a key's reconciliation. Most buckets have no false throttle, so the
// row is built only for those that do.
type falseBucket struct {
	start, end, partEnd int64
	date                int64 // the part's date (Split), else minInt64
	have                bool
	requests, rejected  int64
	real, falses        int64 // the real gateway's rejections, the false throttles among them
	row                 schema.FalseThrottleRow
}

// isQuota reports whether r is a calendar quota: a fixed limit per UTC
// day, week, month or year (a 24h window is the UTC day).
func isQuota(r *Rule) bool {
	return r.Algorithm == Fixed && (r.Calendar != NoCalendar || r.WindowMillis == dayMillis)
}

// reset starts a new scope with no rules.
func (sc *scopeRun) reset(scope, key string) {
	sc.scope, sc.key = scope, key
	sc.rules = sc.rules[:0]
	sc.nquota = 0
}

// add appends a rule; rules come sorted by plan, then name.
func (sc *scopeRun) add(plan string, r *Rule, windows bool) {
	q := -1
	if sc.ev.opts.Split && isQuota(r) {
		q = sc.nquota
		sc.nquota++
	}
	sc.rules = append(sc.rules, scopeRule{plan: plan, r: r, windows: windows, quota: q})
}

// run evaluates the scope's plan over its series in w's current
// classes (nil w: no request), starting from st (nil: fresh), writes
// the rules' rows to out and the scope's checkpoints.
func (sc *scopeRun) run(w *classWalker, st *ScopeState, out rowSink) error {
	ev := sc.ev
	var full []aggregate.Point
	if w != nil {
		full = w.all()
	}
	if len(full) > 0 && full[0].TimeMillis < ev.startMs {
		return fmt.Errorf("policy: %s %s has requests at %s, before the start states' date %s", sc.scope, sc.key,
			aggregate.Millis(full[0].TimeMillis).Format(time.RFC3339), aggregate.Millis(ev.startMs).Format(time.DateOnly))
	}
	if err := sc.match(st); err != nil {
		return err
	}
	sc.sum(full)
	for q := range sc.nquota {
		if q == len(sc.used) {
			sc.used = append(sc.used, nil)
		}
		sc.used[q] = resize(sc.used[q], len(sc.days))
	}
	if len(sc.cps) < len(ev.cpDays) {
		sc.cps = make([][]RuleState, len(ev.cpDays))
	}
	sc.cpLo, sc.cpHi = len(ev.cpDays), -1
	sc.heads = sc.heads[:0]
	if w != nil {
		for _, i := range w.present {
			n := len(sc.heads)
			if n < cap(sc.heads) {
				sc.heads = sc.heads[:n+1] // keep the rules list's array
			} else {
				sc.heads = append(sc.heads, classHead{})
			}
			h := &sc.heads[n]
			h.class, h.pts, h.i, h.rules = w.classes[i], w.readers[i].s.Points, 0, h.rules[:0]
			for k := range sc.rules {
				if applies(sc.rules[k].r, h.class) {
					h.rules = append(h.rules, k)
				}
			}
		}
	}
	// Every rule's run before any starts: a run holds its gateway, which
	// must not move once started.
	if n := len(sc.rules); n > len(sc.runs) {
		sc.runs = append(sc.runs, make([]ruleRun, n-len(sc.runs))...)
	}
	for k := range sc.rules {
		if err := sc.startRule(k, out); err != nil {
			return err
		}
	}
	sc.rooms = resize(sc.rooms, len(sc.rules))
	sc.rdi, sc.ft = 0, falseBucket{partEnd: minInt64}
	if err := sc.walk(out); err != nil {
		return err
	}
	for k := range sc.rules {
		if err := sc.runs[k].finish(); err != nil {
			return err
		}
	}
	if err := sc.flushFalse(out); err != nil {
		return err
	}
	// The rules' rows, buffered during the walk, in the tables' order:
	// rule by rule.
	for k := range sc.rules {
		if err := sc.runs[k].emit(out); err != nil {
			return err
		}
	}
	return sc.checkpoints()
}

// walk offers the scope's requests to its plan instant by instant and,
// at one instant, request class by request class in ascending order of
// class (Policy.Filters' order): a canonical order, whatever the order
// of the log lines. Each group of simultaneous requests of one class is
// accepted as far as every rule counting them has room, and counted in
// all of them; the rest are rejected, and counted in none.
func (sc *scopeRun) walk(out rowSink) error {
	if len(sc.heads) == 1 { // one class: no instants to line up
		h := &sc.heads[0]
		for ; h.i < len(h.pts); h.i++ {
			if err := sc.group(h.pts[h.i].TimeMillis, h, &h.pts[h.i], out); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		t := int64(maxInt64)
		for i := range sc.heads {
			if h := &sc.heads[i]; h.i < len(h.pts) && h.pts[h.i].TimeMillis < t {
				t = h.pts[h.i].TimeMillis
			}
		}
		if t == maxInt64 {
			return nil
		}
		for i := range sc.heads {
			h := &sc.heads[i]
			if h.i < len(h.pts) && h.pts[h.i].TimeMillis == t {
				if err := sc.group(t, h, &h.pts[h.i], out); err != nil {
					return err
				}
				h.i++
			}
		}
	}
}

// applies reports whether rule r counts requests of class c.
func applies(r *Rule, c aggregate.Class) bool {
	return r.Filter < 0 || c&(aggregate.Class(1)<<r.Filter) != 0
}

// group decides p's requests, all of h's class at t.
func (sc *scopeRun) group(t int64, h *classHead, p *aggregate.Point, out rowSink) error {
	n := p.Requests
	accept := n
	for _, k := range h.rules {
		rr := &sc.runs[k]
		if t >= rr.partEnd {
			if err := rr.boundary(t); err != nil {
				return err
			}
		}
		if n > 0 {
			sc.rooms[k] = rr.gw.room(t, n)
			accept = min(accept, sc.rooms[k])
		}
	}
	rejected := n - accept
	caught := min(rejected, p.Rejected)
	for _, k := range h.rules {
		rr := &sc.runs[k]
		if n > 0 {
			// The rejected requests all meet the state after the
			// accepted ones: a rule refuses them all if it is one
			// that had no more room, none otherwise.
			var refused int64
			if sc.rooms[k] == accept {
				refused = n - accept
			}
			// The requests that reached the rule: those accepted and
			// those it refused.
			if rr.lin != nil {
				rr.peakDemand = max(rr.peakDemand, rr.lin.demand(accept+refused))
			} else {
				rr.audit.PeakUsagePct = max(rr.audit.PeakUsagePct, 100*rr.gw.usage(accept+refused))
			}
			rr.gw.take(t, accept)
			rr.allowed += accept
			rr.excess += refused
			rr.caught += min(refused, caught)
			if refused > 0 && rr.first == NoTime {
				rr.exceed(t)
			}
		}
		rr.requests += n
		rr.observed += p.Rejected
	}
	return sc.reconcile(t, n, rejected, p.Rejected, caught, out)
}

// reconcile counts one group's verdicts, the plan's and the real
// gateway's, once per request: into the scope's date (or run) totals and
// the false-throttles table. A key with no rule is not reconciled: it
// has no plan to judge its throttles by.
func (sc *scopeRun) reconcile(t, n, rejected, real, caught int64, out rowSink) error {
	if len(sc.rules) == 0 || sc.scope != ScopeKey {
		return nil
	}
	tot := &sc.all
	if sc.ev.opts.Split {
		for d := floorDiv(t, dayMillis); sc.days[sc.rdi] < d; {
			sc.rdi++
		}
		tot = &sc.totals[sc.rdi]
	}
	tot.rejected += rejected
	tot.caught += caught
	ft := &sc.ft
	if t >= ft.partEnd {
		if err := sc.flushFalse(out); err != nil {
			return err
		}
		report := sc.ev.report
		ft.start = windowStart(t, report)
		ft.end = ft.start + report
		ft.partEnd = ft.end
		ft.date = minInt64
		if sc.ev.opts.Split {
			ft.partEnd = min(ft.end, (floorDiv(t, dayMillis)+1)*dayMillis)
			ft.date = floorDiv(t, dayMillis) * dayMillis
		}
		ft.requests, ft.rejected, ft.real, ft.falses = 0, 0, 0, 0
		ft.have = true
	}
	ft.requests += n
	ft.rejected += rejected
	ft.real += real
	ft.falses += real - caught
	return nil
}

// flushFalse writes the bucket being summed if it has a false throttle.
func (sc *scopeRun) flushFalse(out rowSink) error {
	ft := &sc.ft
	if !ft.have {
		return nil
	}
	ft.have = false
	if ft.falses == 0 {
		return nil
	}
	date := time.Time{}
	if ft.date != minInt64 {
		date = aggregate.Millis(ft.date)
	}
	ft.row = schema.FalseThrottleRow{Key: sc.key, Plan: sc.rules[0].plan,
		WindowStart: aggregate.Millis(ft.start), WindowEnd: aggregate.Millis(ft.end),
		Requests: ft.requests, Rejected: ft.rejected, GatewayRejected: ft.real, FalseThrottles: ft.falses, Date: date}
	return out.FalseThrottle(&ft.row)
}

// match pairs the rules with their states in st: both are sorted by
// plan and limit name. A state of a limit the scope is not evaluated
// under, or of another algorithm, means the states come from another
// policy: an error.
func (sc *scopeRun) match(st *ScopeState) error {
	sc.starts = sc.starts[:0]
	j := 0
	for _, sr := range sc.rules {
		var rs *RuleState
		if st != nil && j < len(st.Rules) && st.Rules[j].Plan == sr.plan && st.Rules[j].Limit == sr.r.Name {
			rs = &st.Rules[j]
			j++
			if rs.Algorithm != sr.r.Algorithm {
				return fmt.Errorf("policy: start state of %s %s: limit %s of plan %s is %s, not %s", sc.scope, sc.key, rs.Limit, rs.Plan, sr.r.Algorithm, rs.Algorithm)
			}
		}
		sc.starts = append(sc.starts, rs)
	}
	if st != nil && j < len(st.Rules) {
		return fmt.Errorf("policy: start state of %s %s: no limit %s in plan %s for it (were the states saved under another policy?)",
			sc.scope, sc.key, st.Rules[j].Limit, st.Rules[j].Plan)
	}
	return nil
}

// sum totals the scope's series: per date with Split, else over the run
// (for the keys table).
func (sc *scopeRun) sum(full []aggregate.Point) {
	if !sc.ev.opts.Split {
		sc.all = dayTotal{}
		if sc.scope != ScopeKey || len(full) == 0 {
			return
		}
		sc.all = dayTotal{first: full[0].TimeMillis, last: full[len(full)-1].TimeMillis}
		for i := range full {
			sc.all.c.Add(&full[i].Counters)
		}
		return
	}
	sc.days, sc.totals = sc.days[:0], sc.totals[:0]
	for i := range full {
		p := &full[i]
		d := floorDiv(p.TimeMillis, dayMillis)
		if n := len(sc.days); n == 0 || sc.days[n-1] != d {
			sc.days = append(sc.days, d)
			sc.totals = append(sc.totals, dayTotal{first: p.TimeMillis})
		}
		t := &sc.totals[len(sc.totals)-1]
		t.last = p.TimeMillis
		t.c.Add(&p.Counters)
	}
}

// resize returns s with length n, zeroed.
func resize(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// ruleRun is one rule's part in a scope's evaluation: its gateway, the
// report bucket (for a fixed rule, its window) and, with Split, the part
// of the bucket on one date, which each row reports. Its rows are kept
// until the walk is over (the walk decides for every rule at once, the
// tables list a scope's rows rule by rule).
type ruleRun struct {
	sc  *scopeRun
	sr  *scopeRule
	gw  gateway // one of gws
	gws gateways
	// lin is gw when it is a linearGateway, whose peak usage is kept
	// as its peak demand (minInt64: none yet) until the audit row needs
	// it.
	lin        linearGateway
	peakDemand int64
	split      bool
	wins       []schema.WindowRow
	vios       []schema.ViolationRow
	auds       []schema.AuditRow

	// The report bucket [bStart, bEnd) and when it first rejected a
	// request (NoTime: not yet).
	bStart, bEnd, first int64
	// The part being counted ends at partEnd: the bucket's end, or
	// (Split) the date's if sooner.
	partEnd                     int64
	have                        bool
	requests, allowed, observed int64
	// excess: the plan's rejections this rule refused; caught: those of
	// them the real gateway rejected.
	excess, caught int64
	// Split: the part's date is sc.days[di], ending at dayEnd.
	di     int
	dayEnd int64
	// The audit row being summed: the date's (Split) or the run's.
	audit schema.AuditRow
	// ci is the next checkpoint date to save the state at.
	ci int
}

// startRule readies rule k's run: a fresh gateway, or one loaded from
// its start state.
func (sc *scopeRun) startRule(k int, out rowSink) error {
	ev := sc.ev
	sr := &sc.rules[k]
	r := sr.r
	rr := &sc.runs[k]
	*rr = ruleRun{sc: sc, sr: sr, gws: rr.gws, split: ev.opts.Split,
		wins: rr.wins[:0], vios: rr.vios[:0], auds: rr.auds[:0],
		bEnd: minInt64, first: NoTime, partEnd: minInt64, dayEnd: minInt64,
		audit: schema.AuditRow{Key: sc.key, Plan: sr.plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: sc.scope}}
	rr.gw = rr.gws.fresh(r)
	rr.lin, _ = rr.gw.(linearGateway)
	rr.peakDemand = minInt64
	from := int64(maxInt64) // the first checkpoint date the rule may be other than fresh at
	if start := sc.starts[k]; start != nil {
		if err := rr.load(start); err != nil {
			return fmt.Errorf("policy: start state of %s %s, limit %s of plan %s: %w", sc.scope, sc.key, r.Name, sr.plan, err)
		}
		from = ev.startMs
	} else if t, ok := sc.firstOf(r); ok {
		from = t + 1
	}
	rr.ci = sort.Search(len(ev.cpDays), func(i int) bool { return ev.cpDays[i]*dayMillis >= from })
	return nil
}

// firstOf returns the time of the scope's first request that r counts.
func (sc *scopeRun) firstOf(r *Rule) (int64, bool) {
	first, ok := int64(maxInt64), false
	for i := range sc.heads {
		if h := &sc.heads[i]; len(h.pts) > 0 && applies(r, h.class) && h.pts[0].TimeMillis < first {
			first, ok = h.pts[0].TimeMillis, true
		}
	}
	return first, ok
}

// emit hands the rule's kept rows to out.
func (rr *ruleRun) emit(out rowSink) error {
	for i := range rr.wins {
		if err := out.Window(&rr.wins[i]); err != nil {
			return err
		}
	}
	for i := range rr.vios {
		if err := out.Violation(&rr.vios[i]); err != nil {
			return err
		}
	}
	for i := range rr.auds {
		if err := out.Audit(&rr.auds[i]); err != nil {
			return err
		}
	}
	return nil
}

// load starts the rule from its state at the start states' date.
func (rr *ruleRun) load(rs *RuleState) error {
	day := rr.sc.ev.startMs
	if err := rr.gw.load(day, rs); err != nil {
		return err
	}
	if rs.FirstExceeded != NoTime {
		rr.bStart, rr.bEnd = rr.bucketOf(day)
		if rs.FirstExceeded < rr.bStart || rs.FirstExceeded >= day {
			return fmt.Errorf("first rejection at %d outside the bucket [%d, %d)", rs.FirstExceeded, rr.bStart, day)
		}
		rr.first = rs.FirstExceeded
	}
	return nil
}

// bucketOf returns the report bucket holding t: a fixed rule's window,
// else the report interval.
func (rr *ruleRun) bucketOf(t int64) (int64, int64) {
	if r := rr.sr.r; r.Algorithm == Fixed {
		return r.fixedWindow(t)
	}
	report := rr.sc.ev.report
	s := windowStart(t, report)
	return s, s + report
}

// boundary ends the part being counted and starts the one holding t: at
// a new date (Split) it first closes the dates before t's and saves the
// checkpoints up to t's date; at a new bucket it forgets the old one's
// first rejection.
func (rr *ruleRun) boundary(t int64) error {
	if rr.have {
		if err := rr.flushPart(); err != nil {
			return err
		}
	}
	if rr.split && t >= rr.dayEnd {
		day := floorDiv(t, dayMillis)
		if err := rr.closeDays(day); err != nil {
			return err
		}
		rr.checkpointsUpTo(day * dayMillis)
		rr.dayEnd = (day + 1) * dayMillis
	}
	if t >= rr.bEnd {
		rr.bStart, rr.bEnd = rr.bucketOf(t)
		rr.first = NoTime
	}
	rr.partEnd = rr.bEnd
	if rr.split {
		rr.partEnd = min(rr.bEnd, rr.dayEnd)
	}
	rr.requests, rr.allowed, rr.observed, rr.have = 0, 0, 0, true
	rr.excess, rr.caught = 0, 0
	return nil
}

// exceed notes the bucket's first rejection, at t: the bucket counts as
// exceeded on t's date.
func (rr *ruleRun) exceed(t int64) {
	rr.first = t
	rr.audit.ExceededBuckets++
}

// date is the part's routing date (zero without Split).
func (rr *ruleRun) date() time.Time {
	if !rr.split {
		return time.Time{}
	}
	return aggregate.Millis(rr.sc.days[rr.di] * dayMillis)
}

// flushPart adds the part to the audit row and keeps its window and
// violation rows.
func (rr *ruleRun) flushPart() error {
	rr.have = false
	excess, caught := rr.excess, rr.caught
	a := &rr.audit
	a.Requests += rr.requests
	a.Allowed += rr.allowed
	a.Excess += excess
	a.GatewayRejected += rr.observed
	a.Caught += caught
	a.Leaked += excess - caught
	sc, r := rr.sc, rr.sr.r
	if rr.sr.windows && r.Algorithm == Fixed && rr.requests > 0 && (sc.ev.pol.AllWindows || rr.busy()) {
		rr.wins = append(rr.wins, schema.WindowRow{Key: sc.key, Plan: rr.sr.plan, LimitName: r.Name, WindowStart: aggregate.Millis(rr.bStart),
			WindowEnd: aggregate.Millis(rr.bEnd), Requests: rr.requests, Date: rr.date()})
	}
	if excess == 0 {
		return nil
	}
	v := schema.ViolationRow{
		Key: sc.key, Plan: rr.sr.plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
		WindowStart: aggregate.Millis(rr.bStart), WindowEnd: aggregate.Millis(rr.bEnd),
		Requests: rr.requests, Allowed: rr.allowed, Excess: excess,
		GatewayRejected: rr.observed, Caught: caught, Leaked: excess - caught,
		Scope: sc.scope, Date: rr.date(),
	}
	if rr.first != NoTime {
		v.FirstExceeded = aggregate.Millis(rr.first)
	}
	rr.vios = append(rr.vios, v)
	if rr.split {
		sc.totals[rr.di].violations++
	} else {
		sc.all.violations++
	}
	return nil
}

// busy reports whether a fixed rule's window has accepted at least half
// its limit so far (flushPart asks before the gateway moves on).
func (rr *ruleRun) busy() bool {
	g := rr.gw.(*fixedGateway)
	return 2*g.used >= g.rule.Limit
}

// closeDays writes the audit rows of the scope's dates before day (Split)
// and notes the quota's use at their ends.
func (rr *ruleRun) closeDays(day int64) error {
	sc := rr.sc
	for rr.di < len(sc.days) && sc.days[rr.di] < day {
		a := rr.auditRow()
		a.Date = aggregate.Millis(sc.days[rr.di] * dayMillis)
		rr.auds = append(rr.auds, *a)
		a.Requests, a.Allowed, a.Excess, a.GatewayRejected = 0, 0, 0, 0
		a.Caught, a.Leaked, a.ExceededBuckets, a.PeakUsagePct = 0, 0, 0, 0
		if q := rr.sr.quota; q >= 0 {
			sc.used[q][rr.di] = rr.quotaUsed(sc.days[rr.di] * dayMillis)
		}
		rr.di++
	}
	return nil
}

// auditRow returns the audit row being summed, its peak usage brought up
// to date.
func (rr *ruleRun) auditRow() *schema.AuditRow {
	if rr.lin != nil && rr.peakDemand != minInt64 {
		rr.audit.PeakUsagePct = max(rr.audit.PeakUsagePct, 100*rr.lin.usageOf(rr.peakDemand))
		rr.peakDemand = minInt64
	}
	return &rr.audit
}

// quotaUsed is what the quota's period holding the date starting at day
// has accepted so far.
func (rr *ruleRun) quotaUsed(day int64) int64 {
	g := rr.gw.(*fixedGateway)
	if g.start <= day && day < g.end {
		return g.used
	}
	return 0
}

// finish ends the rule: its last part, its remaining dates' (Split) or
// its run's audit row, and its states at the checkpoint dates after its
// last request, up to the first at which it is fresh again (it then
// stays so).
func (rr *ruleRun) finish() error {
	if rr.have {
		if err := rr.flushPart(); err != nil {
			return err
		}
	}
	if rr.split {
		if err := rr.closeDays(maxInt64); err != nil {
			return err
		}
	} else {
		rr.auds = append(rr.auds, *rr.auditRow())
	}
	cp := rr.sc.ev.cpDays
	for ; rr.ci < len(cp); rr.ci++ {
		if !rr.save(rr.ci) {
			break
		}
	}
	return nil
}

// checkpointsUpTo saves the state at every checkpoint date up to t.
func (rr *ruleRun) checkpointsUpTo(t int64) {
	cp := rr.sc.ev.cpDays
	for ; rr.ci < len(cp) && cp[rr.ci]*dayMillis <= t; rr.ci++ {
		rr.save(rr.ci)
	}
}

// save records the rule's state at the start of checkpoint date i,
// unless it is fresh-equivalent; it reports whether it was not.
func (rr *ruleRun) save(i int) bool {
	sc := rr.sc
	day := sc.ev.cpDays[i] * dayMillis
	s := sc.cps[i]
	if len(s) < cap(s) {
		s = s[:len(s)+1]
	} else {
		s = append(s, RuleState{})
	}
	rs := &s[len(s)-1]
	r := rr.sr.r
	rs.reset(rr.sr.plan, r.Name, r.Algorithm)
	keep := rr.gw.save(day, rs)
	if rr.first != NoTime && rr.bEnd > day {
		rs.FirstExceeded, keep = rr.first, true
	}
	if !keep {
		return false
	}
	sc.cps[i] = s
	sc.cpLo, sc.cpHi = min(sc.cpLo, i), max(sc.cpHi, i)
	return true
}

// checkpoints hands the scope's saved states to the writer, date by date,
// and empties them for the next scope.
func (sc *scopeRun) checkpoints() error {
	ev := sc.ev
	for i := sc.cpLo; i <= sc.cpHi; i++ {
		if len(sc.cps[i]) == 0 {
			continue
		}
		// The rules saved their states as the walk reached each date,
		// not in order.
		slices.SortFunc(sc.cps[i], func(a, b RuleState) int {
			return cmp.Or(strings.Compare(a.Plan, b.Plan), strings.Compare(a.Limit, b.Limit))
		})
		sc.state = ScopeState{Scope: sc.scope, Key: sc.key, Rules: sc.cps[i]}
		if err := ev.writeState(ev.cpDays[i], &sc.state); err != nil {
			return err
		}
		sc.cps[i] = sc.cps[i][:0]
	}
	return nil
}

// writeState hands the writer one scope's state at the start of day.
func (ev *evaluator) writeState(day int64, s *ScopeState) error {
	if day != ev.cpCur {
		if err := ev.opts.Checkpoints.Date(aggregate.Millis(day * dayMillis)); err != nil {
			return err
		}
		ev.cpCur = day
	}
	return ev.opts.Checkpoints.State(s)
}

// keyRows writes the key's keys-table rows: one per date with Split,
// else one.
func (sc *scopeRun) keyRows(plan string, sink Sink) error {
	reconciled := len(sc.rules) > 0
	row := func(t *dayTotal, date time.Time) error {
		sc.key1 = schema.KeyRow{Key: sc.key, Plan: plan, Requests: t.c.Requests,
			FirstSeen: aggregate.Millis(t.first), LastSeen: aggregate.Millis(t.last),
			Status2xx: t.c.Status2xx, Status3xx: t.c.Status3xx, Status4xx: t.c.Status4xx, Status5xx: t.c.Status5xx,
			Status429: t.c.Status429, BytesSent: t.c.BytesSent, Violations: t.violations,
			Rejected: t.rejected, GatewayRejected: t.c.Rejected, Caught: t.caught, Leaked: t.rejected - t.caught, Date: date}
		if reconciled {
			sc.key1.FalseThrottles = t.c.Rejected - t.caught
		}
		return sink.Key(&sc.key1)
	}
	if !sc.ev.opts.Split {
		return row(&sc.all, time.Time{})
	}
	for i, d := range sc.days {
		if err := row(&sc.totals[i], aggregate.Millis(d*dayMillis)); err != nil {
			return err
		}
	}
	return nil
}

// usageRows writes the scope's usage rows (Split): per calendar quota
// and date; a key with no quota of its own gets one row per date without
// quota columns, under plan.
func (sc *scopeRun) usageRows(plan string, out rowSink) error {
	ev := sc.ev
	if sc.nquota == 0 {
		if sc.scope != ScopeKey {
			return nil
		}
		for i, d := range sc.days {
			sc.use = schema.UsageRow{Key: sc.key, Plan: plan, Requests: sc.totals[i].c.Requests,
				BillableRequests: ev.billableOf(&sc.totals[i].c), Scope: sc.scope, Date: aggregate.Millis(d * dayMillis)}
			if err := out.Usage(&sc.use); err != nil {
				return err
			}
		}
		return nil
	}
	for _, sr := range sc.rules {
		if sr.quota < 0 {
			continue
		}
		for i, d := range sc.days {
			start, end := sr.r.fixedWindow(d * dayMillis)
			used := sc.used[sr.quota][i]
			v := sc.nums(sr.r.Limit, used, max(0, sr.r.Limit-used))
			sc.use = schema.UsageRow{Key: sc.key, Plan: sr.plan, LimitName: sr.r.Name,
				PeriodStart: aggregate.Millis(start), PeriodEnd: aggregate.Millis(end), Quota: &v[0],
				Requests: sc.totals[i].c.Requests, BillableRequests: ev.billableOf(&sc.totals[i].c),
				Used: &v[1], Remaining: &v[2], Scope: sc.scope, Date: aggregate.Millis(d * dayMillis)}
			if err := out.Usage(&sc.use); err != nil {
				return err
			}
		}
	}
	return nil
}

// nums returns a home for a usage row's nullable numbers. A sink may keep
// the row past the call (a report table queues it), so they are never
// reused: they are cut from slabs, to save an allocation per row.
func (sc *scopeRun) nums(a, b, c int64) *[3]int64 {
	if len(sc.slab) == 0 {
		sc.slab = make([][3]int64, 256)
	}
	v := &sc.slab[0]
	sc.slab = sc.slab[1:]
	*v = [3]int64{a, b, c}
	return v
}
