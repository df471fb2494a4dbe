package aggregate

import (
	"slices"
	"strings"
)

// Sink receives report rows. Rows arrive sorted by key, then limit name,
// then window start, so a sink can stream them straight to files.
type Sink interface {
	Window(*WindowRow) error
	Violation(*ViolationRow) error
	Key(*KeyRow) error
}

// Analyze evaluates every limit over every key's series of src and sends
// the rows to sink. Memory is bounded by one key's series at a time.
func Analyze(src Source, limits []Limit, sink Sink) error {
	limits = slices.Clone(limits)
	slices.SortStableFunc(limits, func(a, b Limit) int { return strings.Compare(a.Name, b.Name) })
	var (
		win WindowRow
		vio ViolationRow
		key KeyRow
	)
	return src.Each(func(s *Series) error {
		if len(s.Points) == 0 {
			return nil
		}
		key = KeyRow{Key: s.Key}
		for _, lim := range limits {
			n, err := evalFixed(s, lim, &win, &vio, sink)
			if err != nil {
				return err
			}
			key.Violations += n
		}
		var total Counters
		for i := range s.Points {
			total.Add(&s.Points[i].Counters)
		}
		key.Requests = total.Requests
		key.FirstSeen = Millis(s.Points[0].TimeMillis)
		key.LastSeen = Millis(s.Points[len(s.Points)-1].TimeMillis)
		key.Status2xx, key.Status3xx = total.Status2xx, total.Status3xx
		key.Status4xx, key.Status5xx = total.Status4xx, total.Status5xx
		key.Status429, key.BytesSent = total.Status429, total.BytesSent
		return sink.Key(&key)
	})
}

// evalFixed counts s's requests per fixed window of lim, emitting a window
// row for each window and a violation row for each window over the limit.
// It returns the number of violations.
func evalFixed(s *Series, lim Limit, win *WindowRow, vio *ViolationRow, sink Sink) (int64, error) {
	var violations int64
	flush := func(start, requests int64) error {
		*win = WindowRow{
			Key: s.Key, LimitName: lim.Name,
			WindowStart: Millis(start), WindowEnd: Millis(start + lim.WindowMillis),
			Requests: requests,
		}
		if err := sink.Window(win); err != nil {
			return err
		}
		if requests <= lim.Allowed {
			return nil
		}
		violations++
		*vio = ViolationRow{
			Key: s.Key, LimitName: lim.Name,
			WindowStart: win.WindowStart, WindowEnd: win.WindowEnd,
			Requests: requests, Allowed: lim.Allowed, Excess: requests - lim.Allowed,
		}
		return sink.Violation(vio)
	}
	cur := windowStart(s.Points[0].TimeMillis, lim.WindowMillis)
	var requests int64
	for i := range s.Points {
		p := &s.Points[i]
		if w := windowStart(p.TimeMillis, lim.WindowMillis); w != cur {
			if err := flush(cur, requests); err != nil {
				return violations, err
			}
			cur, requests = w, 0
		}
		requests += p.Requests
	}
	return violations, flush(cur, requests)
}
