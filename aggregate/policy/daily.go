package policy

import (
	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

// DailyKeys splits the keys table by UTC date, for day-partitioned
// reports: it is partials wrapping others and a Sink wrapping another,
// so it goes around any evaluator:
//
//	d := policy.NewDailyKeys(src, sink)
//	_, err := policy.Evaluate(ctx, policy.Inputs{All: d}, pol, d)
//
// Window and violation rows pass through. Each key's whole-run KeyRow is
// replaced by one row per UTC date on which the key has requests, with
// that date's requests, first and last request time, status counts and
// bytes; every other column is copied from the whole-run row. Violations
// counts the key's violation rows whose window starts on that date, or,
// for a window that starts on a date without requests from the key
// (windows that do not divide a day), on the next date that has some.
// Summing a key's rows over dates gives its whole-run row.
type DailyKeys struct {
	src  aggregate.Partials
	sink Sink
	days []keyDay
	key  string // the series being evaluated
	row  schema.KeyRow
}

type keyDay struct {
	day         int64 // days since the epoch
	first, last int64 // epoch ms
	total       aggregate.Counters
	violations  int64
}

// NewDailyKeys wraps src and sink.
func NewDailyKeys(src aggregate.Partials, sink Sink) *DailyKeys {
	return &DailyKeys{src: src, sink: sink}
}

// Open implements aggregate.Partials: src's series, passed on after
// noting each date's totals.
func (d *DailyKeys) Open() (aggregate.Cursor, error) {
	c, err := d.src.Open()
	if err != nil {
		return nil, err
	}
	return dailyCursor{c, d}, nil
}

type dailyCursor struct {
	aggregate.Cursor
	d *DailyKeys
}

func (c dailyCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	start := len(dst)
	key, points, err := c.Cursor.Next(dst)
	if err != nil {
		return key, points, err
	}
	d := c.d
	d.days = d.days[:0]
	d.key = key
	for i := range points[start:] {
		p := &points[start+i]
		day := floorDiv(p.TimeMillis, dayMillis)
		if n := len(d.days); n == 0 || d.days[n-1].day != day {
			d.days = append(d.days, keyDay{day: day, first: p.TimeMillis})
		}
		cur := &d.days[len(d.days)-1]
		cur.last = p.TimeMillis
		cur.total.Add(&p.Counters)
	}
	return key, points, nil
}

// Window implements Sink.
func (d *DailyKeys) Window(r *schema.WindowRow) error { return d.sink.Window(r) }

// Violation implements Sink, counting r towards its date. Rows of other
// keys (an evaluator may emit rows for a group of keys, such as an
// account, while evaluating one key) pass through uncounted.
func (d *DailyKeys) Violation(r *schema.ViolationRow) error {
	// Rows where only the real gateway throttled (excess 0) are not
	// violations of the key; the keys table counts the others.
	if r.Key != d.key || r.Excess == 0 {
		return d.sink.Violation(r)
	}
	day := floorDiv(r.WindowStart.UnixMilli(), dayMillis)
	for i := range d.days {
		if d.days[i].day >= day {
			d.days[i].violations++
			break
		}
	}
	return d.sink.Violation(r)
}

// Audit passes throttle-audit rows through: they sum the whole run, so
// they have no date to split by.
func (d *DailyKeys) Audit(r *schema.AuditRow) error { return d.sink.Audit(r) }

// Key implements Sink: it writes total's per-date rows instead of total.
func (d *DailyKeys) Key(total *schema.KeyRow) error {
	for i := range d.days {
		k := &d.days[i]
		d.row = *total
		d.row.Requests = k.total.Requests
		d.row.FirstSeen, d.row.LastSeen = aggregate.Millis(k.first), aggregate.Millis(k.last)
		d.row.Status2xx, d.row.Status3xx = k.total.Status2xx, k.total.Status3xx
		d.row.Status4xx, d.row.Status5xx = k.total.Status4xx, k.total.Status5xx
		d.row.Status429, d.row.BytesSent = k.total.Status429, k.total.BytesSent
		d.row.Violations = k.violations
		if err := d.sink.Key(&d.row); err != nil {
			return err
		}
	}
	return nil
}

// floorDiv divides rounding towards minus infinity, so times before 1970
// fall on the right day.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
