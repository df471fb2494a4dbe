package policy

import (
	"fmt"
	"sort"
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
}

// scopeRun evaluates one scope, a key or an account, over its series:
// each rule of its plan (or, for an account, of each of its plans) is a
// gateway of its own with the report buckets that go with it (a ruleRun;
// together they are the scope's plan-level gateway, so that one deciding
// a request for all its rules at once needs no other structure), and the
// scope collects what its key and usage rows and its checkpoints need.
// One scopeRun is reused from scope to scope, so that a key costs no
// allocation beyond its gateways.
type scopeRun struct {
	ev    *evaluator
	scope string
	key   string
	rules []scopeRule
	// starts[k] is rules[k]'s start state, or nil.
	starts []*RuleState

	// With Split: the dates the scope has requests on (days since the
	// epoch), their totals, the buckets that first exceeded a limit on
	// each, and per quota rule per date what the quota had accepted from
	// its period's start to the date's end. Without: the run's totals.
	days        []int64
	totals      []dayTotal
	exceeded    []int64
	used        [][]int64
	nquota      int
	all         dayTotal
	allExceeded int64

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

// dayTotal sums a scope's points over a date (or the run).
type dayTotal struct {
	first, last int64
	c           aggregate.Counters
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

// run evaluates every rule over its view of the scope's series full
// (view(f): the requests filter f counts), starting from st (nil:
// fresh), writes the rules' rows to out and the scope's checkpoints.
func (sc *scopeRun) run(full []aggregate.Point, view func(int) []aggregate.Point, st *ScopeState, out rowSink) error {
	ev := sc.ev
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
	for k := range sc.rules {
		pts := full
		if f := sc.rules[k].r.Filter; f >= 0 {
			pts = view(f)
		}
		if err := sc.evalRule(k, pts, out); err != nil {
			return err
		}
	}
	return sc.checkpoints()
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
		sc.allExceeded = 0
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
	sc.exceeded = resize(sc.exceeded, len(sc.days))
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

// ruleRun is one rule's evaluation over a scope's series: its gateway,
// the report bucket (for a fixed rule, its window) and, with Split, the
// part of the bucket on one date, which each row reports.
type ruleRun struct {
	sc    *scopeRun
	sr    *scopeRule
	gw    gateway
	out   rowSink
	split bool

	// The report bucket [bStart, bEnd) and when it first rejected a
	// request (NoTime: not yet).
	bStart, bEnd, first int64
	// The part being counted ends at partEnd: the bucket's end, or
	// (Split) the date's if sooner.
	partEnd                     int64
	have                        bool
	requests, allowed, observed int64
	// Split: the part's date is sc.days[di], ending at dayEnd.
	di     int
	dayEnd int64
	// The audit row being summed: the date's (Split) or the run's.
	audit schema.AuditRow
	// ci is the next checkpoint date to save the state at.
	ci  int
	win schema.WindowRow
	vio schema.ViolationRow
}

// evalRule runs rule k over pts, its view of the scope's series.
func (sc *scopeRun) evalRule(k int, pts []aggregate.Point, out rowSink) error {
	ev := sc.ev
	sr := &sc.rules[k]
	r := sr.r
	if k >= len(sc.runs) {
		sc.runs = append(sc.runs, make([]ruleRun, k+1-len(sc.runs))...)
	}
	rr := &sc.runs[k]
	*rr = ruleRun{sc: sc, sr: sr, gw: newGateway(r), out: out, split: ev.opts.Split,
		bEnd: minInt64, first: NoTime, partEnd: minInt64, dayEnd: minInt64,
		audit: schema.AuditRow{Key: sc.key, Plan: sr.plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: sc.scope}}
	from := int64(maxInt64) // the first checkpoint date the rule may be other than fresh at
	if start := sc.starts[k]; start != nil {
		if err := rr.load(start); err != nil {
			return fmt.Errorf("policy: start state of %s %s, limit %s of plan %s: %w", sc.scope, sc.key, r.Name, sr.plan, err)
		}
		from = ev.startMs
	} else if len(pts) > 0 {
		from = pts[0].TimeMillis + 1
	}
	rr.ci = sort.Search(len(ev.cpDays), func(i int) bool { return ev.cpDays[i]*dayMillis >= from })

	gw := rr.gw
	for i := range pts {
		p := &pts[i]
		if p.TimeMillis >= rr.partEnd {
			if err := rr.boundary(p.TimeMillis); err != nil {
				return err
			}
		}
		if p.Requests > 0 {
			acc, usage := gw.offer(p.TimeMillis, p.Requests)
			rr.allowed += acc
			rr.audit.PeakUsage = max(rr.audit.PeakUsage, usage)
			if acc < p.Requests && rr.first == NoTime {
				rr.exceed(p.TimeMillis)
			}
		}
		rr.requests += p.Requests
		rr.observed += p.Rejected
	}
	return rr.finish()
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
	return nil
}

// exceed notes the bucket's first rejection, at t: the bucket counts as
// exceeded on t's date.
func (rr *ruleRun) exceed(t int64) {
	rr.first = t
	rr.audit.ExceededBuckets++
	if rr.split {
		rr.sc.exceeded[rr.di]++
	} else {
		rr.sc.allExceeded++
	}
}

// date is the part's routing date (zero without Split).
func (rr *ruleRun) date() time.Time {
	if !rr.split {
		return time.Time{}
	}
	return aggregate.Millis(rr.sc.days[rr.di] * dayMillis)
}

// flushPart adds the part to the audit row and writes its window and
// violation rows.
func (rr *ruleRun) flushPart() error {
	rr.have = false
	excess := rr.requests - rr.allowed
	caught := min(excess, rr.observed)
	a := &rr.audit
	a.Requests += rr.requests
	a.Allowed += rr.allowed
	a.Excess += excess
	a.GatewayRejected += rr.observed
	a.Caught += caught
	a.Leaked += excess - caught
	a.FalseThrottles += rr.observed - caught
	sc, r := rr.sc, rr.sr.r
	if rr.sr.windows && r.Algorithm == Fixed && rr.requests > 0 {
		rr.win = schema.WindowRow{Key: sc.key, Plan: rr.sr.plan, LimitName: r.Name, WindowStart: aggregate.Millis(rr.bStart),
			WindowEnd: aggregate.Millis(rr.bEnd), Requests: rr.requests, Date: rr.date()}
		if err := rr.out.Window(&rr.win); err != nil {
			return err
		}
	}
	if excess == 0 && rr.observed == 0 {
		return nil
	}
	rr.vio = schema.ViolationRow{
		Key: sc.key, Plan: rr.sr.plan, LimitName: r.Name, Algorithm: string(r.Algorithm),
		WindowStart: aggregate.Millis(rr.bStart), WindowEnd: aggregate.Millis(rr.bEnd),
		Requests: rr.requests, Allowed: rr.allowed, Excess: excess,
		GatewayRejected: rr.observed, Caught: caught, Leaked: excess - caught, FalseThrottles: rr.observed - caught,
		Scope: sc.scope, Date: rr.date(),
	}
	if rr.first != NoTime {
		rr.vio.FirstExceeded = aggregate.Millis(rr.first)
	}
	return rr.out.Violation(&rr.vio)
}

// closeDays writes the audit rows of the scope's dates before day (Split)
// and notes the quota's use at their ends.
func (rr *ruleRun) closeDays(day int64) error {
	sc := rr.sc
	for rr.di < len(sc.days) && sc.days[rr.di] < day {
		a := &rr.audit
		a.Date = aggregate.Millis(sc.days[rr.di] * dayMillis)
		if err := rr.out.Audit(a); err != nil {
			return err
		}
		a.Requests, a.Allowed, a.Excess, a.GatewayRejected = 0, 0, 0, 0
		a.Caught, a.Leaked, a.FalseThrottles, a.ExceededBuckets, a.PeakUsage = 0, 0, 0, 0, 0
		if q := rr.sr.quota; q >= 0 {
			sc.used[q][rr.di] = rr.quotaUsed(sc.days[rr.di] * dayMillis)
		}
		rr.di++
	}
	return nil
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
	} else if err := rr.out.Audit(&rr.audit); err != nil {
		return err
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
	row := func(t *dayTotal, violations int64, date time.Time) error {
		sc.key1 = schema.KeyRow{Key: sc.key, Plan: plan, Requests: t.c.Requests,
			FirstSeen: aggregate.Millis(t.first), LastSeen: aggregate.Millis(t.last),
			Status2xx: t.c.Status2xx, Status3xx: t.c.Status3xx, Status4xx: t.c.Status4xx, Status5xx: t.c.Status5xx,
			Status429: t.c.Status429, BytesSent: t.c.BytesSent, Violations: violations, Date: date}
		return sink.Key(&sc.key1)
	}
	if !sc.ev.opts.Split {
		return row(&sc.all, sc.allExceeded, time.Time{})
	}
	for i, d := range sc.days {
		if err := row(&sc.totals[i], sc.exceeded[i], aggregate.Millis(d*dayMillis)); err != nil {
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
