// Package audit builds the HTML audit report (report/html) of a run: it
// watches the rows the evaluator streams to the tables, keeps what the
// page shows (every key's totals ranked, per-plan and per-limit totals,
// the buckets in which the top keys were rejected), and once evaluation
// is over reads the top keys' requests back from the partial aggregate
// for their charts. Its memory is bounded by the page (the ranked keys
// and the top keys' rejected buckets), not by the number of keys.
package audit

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/report/html"
	"github.com/keyrate/keyrate/report/schema"
)

// Builder is a policy.Sink that passes every row on to Next and keeps
// what report.html shows. Rows come key by key (the evaluator's order:
// all of a key's rows before the next key's).
type Builder struct {
	Next   policy.Sink
	Policy *policy.Policy
	// Show turns a key as the rows carry it into the text the page shows
	// (the key display; identity when the rows carry displayed keys).
	Show func(string) string
	// Interval is the report bucket of sliding, token- and leaky-bucket
	// limits (the policy's ReportMillis).
	Interval time.Duration

	collector *html.Collector
	cur       *keyState
	plans     map[string]*html.PlanRow
	limits    map[limitID]*html.LimitRow
	// tops keeps the rejected buckets of the keys that may be on the
	// page: those in the top lists so far.
	tops         topBuckets
	keys         int64
	excess       html.Summary
	unplanned    int64
	plansWithKey map[string]bool
}

type limitID struct{ plan, limit string }

// keyState is the key whose rows are streaming.
type keyState struct {
	key      string
	row      html.KeyRow
	perLimit map[limitID]*html.LimitRow
	buckets  []bucket
	seen     bool
}

// bucket is one rejected bucket of a key and limit.
type bucket struct {
	plan, limit     string
	start, end      time.Time
	excess, gateway int64
}

// NewBuilder returns a Builder over next.
func NewBuilder(next policy.Sink, pol *policy.Policy, show func(string) string) *Builder {
	return &Builder{
		Next: next, Policy: pol, Show: show, Interval: time.Duration(pol.ReportMillis) * time.Millisecond,
		collector: html.NewCollector(0, 0), plans: map[string]*html.PlanRow{}, limits: map[limitID]*html.LimitRow{},
		plansWithKey: map[string]bool{}, tops: topBuckets{n: html.DefaultTopN},
	}
}

// at makes key the streaming key, flushing the previous one.
func (b *Builder) at(key string) *keyState {
	if b.cur != nil && b.cur.key == key {
		return b.cur
	}
	b.flush()
	b.cur = &keyState{key: key, row: html.KeyRow{Key: key}, perLimit: map[limitID]*html.LimitRow{}}
	return b.cur
}

// flush ranks the streaming key and adds it to the totals.
func (b *Builder) flush() {
	k := b.cur
	if k == nil || !k.seen {
		b.cur = nil
		return // an account's rows only: accounts are not keys
	}
	b.cur = nil
	row := k.row
	row.Key = b.Show(k.key)
	b.collector.Add(row)
	b.keys++
	if row.Plan == "" {
		b.unplanned++
	}
	pl := b.plans[row.Plan]
	if pl == nil {
		pl = &html.PlanRow{Plan: row.Plan}
		b.plans[row.Plan] = pl
	}
	pl.Keys++
	if row.Excess > 0 {
		pl.KeysOver++
	}
	pl.Requests += row.Requests
	pl.Excess += row.Excess
	pl.Caught += row.Caught
	pl.Leaked += row.Leaked
	pl.FalseThrottles += row.FalseThrottles
	b.excess.Requests += row.Requests
	b.excess.Excess += row.Excess
	b.excess.Caught += row.Caught
	b.excess.Leaked += row.Leaked
	b.excess.FalseThrottles += row.FalseThrottles
	for id, l := range k.perLimit {
		t := b.limits[id]
		if t == nil {
			t = &html.LimitRow{Plan: id.plan, Limit: id.limit, Definition: b.definition(id)}
			b.limits[id] = t
		}
		if l.Excess > 0 {
			t.KeysOver++
		}
		t.Excess += l.Excess
		t.Caught += l.Caught
		t.Leaked += l.Leaked
	}
	if row.Excess > 0 || row.Leaked > 0 {
		b.tops.offer(k.key, row, k.buckets)
	}
}

func (b *Builder) Window(r *schema.WindowRow) error { return b.Next.Window(r) }

func (b *Builder) Violation(r *schema.ViolationRow) error {
	if r.Scope == policy.ScopeKey && r.Excess > 0 {
		k := b.at(r.Key)
		k.buckets = append(k.buckets, bucket{plan: r.Plan, limit: r.LimitName, start: r.WindowStart, end: r.WindowEnd,
			excess: r.Excess, gateway: r.GatewayRejected})
	}
	return b.Next.Violation(r)
}

func (b *Builder) Audit(r *schema.AuditRow) error {
	if r.Scope == policy.ScopeKey {
		k := b.at(r.Key)
		id := limitID{r.Plan, r.LimitName}
		l := k.perLimit[id]
		if l == nil {
			l = &html.LimitRow{}
			k.perLimit[id] = l
		}
		l.Excess += r.Excess
		l.Caught += r.Caught
		l.Leaked += r.Leaked
	}
	return b.Next.Audit(r)
}

func (b *Builder) Key(r *schema.KeyRow) error {
	k := b.at(r.Key)
	k.seen = true
	k.row.Plan = r.Plan
	k.row.Requests += r.Requests
	// The key's verdicts, reconciled once per request by the evaluator.
	k.row.Excess += r.Rejected
	k.row.Caught += r.Caught
	k.row.Leaked += r.Leaked
	k.row.FalseThrottles += r.FalseThrottles
	return b.Next.Key(r)
}

func (b *Builder) FalseThrottle(r *schema.FalseThrottleRow) error { return b.Next.FalseThrottle(r) }

func (b *Builder) Usage(r *schema.UsageRow) error { return b.Next.Usage(r) }

// definition says what a limit allows, as the page shows it.
func (b *Builder) definition(id limitID) string {
	p := b.Policy.Plans[id.plan]
	if p == nil {
		return ""
	}
	for _, r := range p.Rules {
		if r.Name == id.limit {
			return Definition(&r)
		}
	}
	return ""
}

// Definition says what rule r allows: "60 per 1m (fixed)", "10 r/s,
// burst 20 (token-bucket)".
func Definition(r *policy.Rule) string {
	scope := ""
	if r.PerAccount {
		scope = ", per account"
	}
	switch r.Algorithm {
	case policy.Fixed, policy.Sliding:
		return fmt.Sprintf("%d per %s (%s%s)", r.Limit, r.WindowText(), r.Algorithm, scope)
	case policy.TokenBucket:
		return fmt.Sprintf("%s r/s, burst %d (%s%s)", strconv.FormatFloat(float64(r.RateMicro)/1e6, 'f', -1, 64), r.Burst, r.Algorithm, scope)
	case policy.LeakyBucket:
		return fmt.Sprintf("%s r/s, burst %d (%s%s)", strconv.FormatFloat(float64(r.NginxRate)/1e3, 'f', -1, 64), r.Burst, r.Algorithm, scope)
	}
	return string(r.Algorithm)
}

// topBuckets keeps the rejected buckets of the keys ranked in the top n
// by excess or by leaked so far.
type topBuckets struct {
	n        int
	byExcess []topKey
	byLeaked []topKey
}

type topKey struct {
	key     string
	row     html.KeyRow
	buckets []bucket
}

func (t *topBuckets) offer(key string, row html.KeyRow, buckets []bucket) {
	k := topKey{key: key, row: row, buckets: buckets}
	t.byExcess = keepTop(t.byExcess, k, t.n, func(a, b topKey) int { return html.ExcessOrder(a.row, b.row) })
	t.byLeaked = keepTop(t.byLeaked, k, t.n, func(a, b topKey) int { return html.LeakedOrder(a.row, b.row) })
}

func keepTop(list []topKey, k topKey, n int, order func(a, b topKey) int) []topKey {
	i, _ := slices.BinarySearchFunc(list, k, order)
	if i >= n {
		return list
	}
	list = slices.Insert(list, i, k)
	return list[:min(len(list), n)]
}

// Report finishes the page: the summary from m, the totals and top keys
// from the rows seen, and the top keys' charts, whose requests and real
// rejections per bucket it reads from src (the evaluated partials, keyed
// as the rows are).
func (b *Builder) Report(m *schema.Manifest, src aggregate.Partials) (*html.Report, error) {
	b.flush()
	r := &html.Report{Summary: b.excess}
	s := &r.Summary
	s.Keys, s.UnplannedKeys = b.keys, m.UnplannedKeys
	s.Lines, s.Malformed, s.Keyless, s.InvalidKeys = m.Totals.Lines, m.Totals.Malformed, m.Totals.Keyless, m.Totals.InvalidKey
	if m.TimeRange != nil {
		s.From, s.To = m.TimeRange.First, m.TimeRange.Last
	}
	s.Version, s.Policy, s.PolicyDigest, s.KeyDisplay = m.Version, m.Policy, m.PolicyDigest, m.KeyDisplay
	for _, p := range b.plans {
		if p.Plan != "" {
			s.Plans++
		}
		r.Plans = append(r.Plans, *p)
	}
	slices.SortFunc(r.Plans, func(a, b html.PlanRow) int { return cmp.Compare(a.Plan, b.Plan) })
	for _, l := range b.limits {
		r.Limits = append(r.Limits, *l)
	}
	slices.SortFunc(r.Limits, func(a, b html.LimitRow) int {
		return cmp.Or(cmp.Compare(a.Plan, b.Plan), cmp.Compare(a.Limit, b.Limit))
	})
	for _, in := range m.Inputs {
		r.Inputs = append(r.Inputs, html.Input{Path: in.Path, Format: in.Format, Lines: in.Lines, Malformed: in.Malformed,
			Keyless: in.Keyless, InvalidKeys: in.InvalidKey})
	}
	b.collector.Fill(r)
	charts, err := b.charts(src)
	if err != nil {
		return nil, err
	}
	r.Charts = charts
	return r, nil
}

// charts draws, for every top key, one chart per limit that rejected its
// requests: the buckets from its first to its last rejected one (padded
// by a few buckets), its requests and the real gateway's rejections per
// bucket read from src, the ideal rejections from the violations rows.
func (b *Builder) charts(src aggregate.Partials) (map[string][]html.Chart, error) {
	type want struct {
		key     string
		buckets []bucket
	}
	wanted := map[string]*want{}
	for _, list := range [][]topKey{b.tops.byExcess, b.tops.byLeaked} {
		for _, k := range list {
			wanted[k.key] = &want{key: k.key, buckets: k.buckets}
		}
	}
	out := map[string][]html.Chart{}
	if len(wanted) == 0 || src == nil {
		return out, nil
	}
	c, err := src.Open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var pts []aggregate.Point
	for len(out) < len(wanted) {
		key, p, err := c.Next(pts[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		pts = p
		w := wanted[key]
		if w == nil {
			continue
		}
		out[b.Show(key)] = b.keyCharts(w.buckets, pts)
	}
	return out, nil
}

// maxChartBuckets bounds a chart's span; html merges further.
const maxChartBuckets = 2000

// keyCharts draws one key's charts from its rejected buckets and points.
func (b *Builder) keyCharts(buckets []bucket, pts []aggregate.Point) []html.Chart {
	byLimit := map[limitID][]bucket{}
	var ids []limitID
	for _, bk := range buckets {
		id := limitID{bk.plan, bk.limit}
		if byLimit[id] == nil {
			ids = append(ids, id)
		}
		byLimit[id] = append(byLimit[id], bk)
	}
	slices.SortFunc(ids, func(a, b limitID) int { return cmp.Or(cmp.Compare(a.plan, b.plan), cmp.Compare(a.limit, b.limit)) })
	var charts []html.Chart
	for _, id := range ids {
		bks := byLimit[id]
		rule := b.rule(id)
		step := bks[0].end.Sub(bks[0].start)
		if rule != nil && rule.Algorithm != policy.Fixed {
			step = b.Interval
		}
		if step <= 0 {
			continue
		}
		first, last := bks[0].start, bks[0].start
		for _, bk := range bks {
			first, last = minTime(first, bk.start), maxTime(last, bk.start)
		}
		pad := time.Duration(max(2, int64(last.Sub(first)/step)/10)) * step
		start := first.Add(-pad)
		n := int(last.Add(pad).Sub(start)/step) + 1
		n = min(n, maxChartBuckets)
		ch := html.Chart{Limit: id.limit, Definition: b.definition(id), Start: start, Step: step,
			Requests: make([]int64, n), Allowance: make([]float64, n), Ideal: make([]int64, n), Real: make([]int64, n)}
		for _, p := range pts {
			i := int(aggregate.Millis(p.TimeMillis).Sub(start) / step)
			if i >= 0 && i < n {
				ch.Requests[i] += p.Requests
				ch.Real[i] += p.Rejected
			}
		}
		for _, bk := range bks {
			if i := int(bk.start.Sub(start) / step); i >= 0 && i < n {
				ch.Ideal[i] += bk.excess
			}
		}
		allow := allowance(rule, step)
		for i := range ch.Allowance {
			ch.Allowance[i] = allow
		}
		charts = append(charts, ch)
	}
	return charts
}

func (b *Builder) rule(id limitID) *policy.Rule {
	if p := b.Policy.Plans[id.plan]; p != nil {
		for i := range p.Rules {
			if p.Rules[i].Name == id.limit {
				return &p.Rules[i]
			}
		}
	}
	return nil
}

// allowance is what rule allows per bucket of step: the window's count
// (a fixed window is the bucket; a sliding one scaled to it), or the
// sustained rate times step for token and leaky buckets.
func allowance(r *policy.Rule, step time.Duration) float64 {
	if r == nil {
		return 0
	}
	switch r.Algorithm {
	case policy.Fixed:
		return float64(r.Limit)
	case policy.Sliding:
		if r.WindowMillis > 0 {
			return float64(r.Limit) * float64(step.Milliseconds()) / float64(r.WindowMillis)
		}
	case policy.TokenBucket:
		return float64(r.RateMicro) / 1e6 * step.Seconds()
	case policy.LeakyBucket:
		return float64(r.NginxRate) / 1e3 * step.Seconds()
	}
	return 0
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
