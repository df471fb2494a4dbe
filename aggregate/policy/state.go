package policy

import (
	"fmt"
	"time"
)

// ScopeState is one scope's gateway state at the start of a UTC date:
// the key's (or account's) rules whose state differs from a fresh one,
// so that evaluating the dates from there on gives exactly the rows one
// evaluation from the first request would. A scope whose every rule is
// fresh-equivalent has no state at all.
type ScopeState struct {
	// Scope is ScopeAccount or ScopeKey; Key the (displayed) key or
	// account.
	Scope string
	Key   string
	// Rules are sorted by plan, then limit name; an account has rules
	// of every plan its keys are on.
	Rules []RuleState
}

// RuleState is one rule's state at the start of a date D, normalised so
// that equal futures have equal states:
//
//   - fixed: the window holding D (derived from D) and what it accepted;
//   - sliding: the accepted requests still inside the window, (time,
//     count) by time, all in (D − window, D);
//   - token bucket: the tokens at D, refilled up to D (below the burst:
//     a full bucket is fresh);
//   - leaky bucket: nginx's excess (thousandths of a request) and the
//     time of the last accepted request, which nginx's integer drain
//     needs as such (not yet drained to zero: a drained bucket is fresh).
//
// Every algorithm also carries when its report bucket holding D (for a
// fixed limit its window) first rejected a request, if it has: the rows
// of D and later dates of that bucket name it, and the bucket is not
// counted as exceeded a second time.
type RuleState struct {
	Plan      string
	Limit     string
	Algorithm Algorithm
	// FirstExceeded is the epoch ms at which the bucket holding D first
	// rejected a request, or NoTime.
	FirstExceeded int64
	// Accepted is what a fixed window accepted before D.
	Accepted int64
	// Times and Counts are a sliding window's accepted requests.
	Times, Counts []int64
	// Tokens is a token bucket's content at D in billionths of a token.
	Tokens int64
	// Excess and Last are nginx's lr->excess and lr->last.
	Excess, Last int64
}

// NoTime stands for "no time" in epoch-ms fields.
const NoTime int64 = minInt64

// resetRule empties rs for reuse, keeping its slices' arrays.
func (rs *RuleState) reset(plan, limit string, alg Algorithm) {
	*rs = RuleState{Plan: plan, Limit: limit, Algorithm: alg, FirstExceeded: NoTime,
		Times: rs.Times[:0], Counts: rs.Counts[:0]}
}

// A gateway's state at the start of a date (day: its epoch ms) is saved
// into a RuleState and loaded back from one. save reports false, leaving
// rs's algorithm fields alone, when the state is equivalent to a fresh
// gateway's for every request from day on. load checks what it is given,
// since it may come from a file.
type stateful interface {
	save(day int64, rs *RuleState) bool
	load(day int64, rs *RuleState) error
}

func (g *fixedGateway) save(day int64, rs *RuleState) bool {
	if g.end <= day || g.used == 0 {
		return false
	}
	rs.Accepted = g.used
	return true
}

func (g *fixedGateway) load(day int64, rs *RuleState) error {
	if rs.Accepted < 0 || rs.Accepted > g.rule.Limit {
		return fmt.Errorf("fixed window accepted %d, limit %d", rs.Accepted, g.rule.Limit)
	}
	g.start, g.end = g.rule.fixedWindow(day)
	g.used = rs.Accepted
	return nil
}

func (g *slidingGateway) save(day int64, rs *RuleState) bool {
	for i := g.head; i < len(g.times); i++ {
		if g.times[i] > day-g.width {
			rs.Times = append(rs.Times, g.times[i])
			rs.Counts = append(rs.Counts, g.counts[i])
		}
	}
	return len(rs.Times) > 0
}

func (g *slidingGateway) load(day int64, rs *RuleState) error {
	if len(rs.Times) != len(rs.Counts) {
		return fmt.Errorf("sliding window: %d times, %d counts", len(rs.Times), len(rs.Counts))
	}
	var sum int64
	for i, t := range rs.Times {
		if t <= day-g.width || t >= day || (i > 0 && t <= rs.Times[i-1]) || rs.Counts[i] <= 0 {
			return fmt.Errorf("sliding window: entry %d (%d, %d) out of order or range", i, t, rs.Counts[i])
		}
		sum += rs.Counts[i]
	}
	if sum > g.limit {
		return fmt.Errorf("sliding window holds %d, limit %d", sum, g.limit)
	}
	g.times = append(g.times[:0], rs.Times...)
	g.counts = append(g.counts[:0], rs.Counts...)
	g.head, g.sum = 0, sum
	return nil
}

func (g *tokenGateway) save(day int64, rs *RuleState) bool {
	if !g.started {
		return false
	}
	tokens := g.refilled(day)
	if tokens == g.capacity {
		return false
	}
	rs.Tokens = tokens
	return true
}

func (g *tokenGateway) load(day int64, rs *RuleState) error {
	if rs.Tokens < 0 || rs.Tokens >= g.capacity {
		return fmt.Errorf("token bucket holds %d of %d units", rs.Tokens, g.capacity)
	}
	g.started, g.tokens, g.last = true, rs.Tokens, day
	return nil
}

func (g *nginxGateway) save(day int64, rs *RuleState) bool {
	if !g.started {
		return false
	}
	// Drained: the next request, at day or later, finds excess 0, as a
	// new node does (ms only grows, and the drain with it).
	if ms := day - g.last; ms > (1<<62)/g.rate || g.rate*ms/1000 >= g.excess+1000 {
		return false
	}
	rs.Excess, rs.Last = g.excess, g.last
	return true
}

func (g *nginxGateway) load(day int64, rs *RuleState) error {
	if rs.Excess < 0 || rs.Excess > g.burst || rs.Last >= day {
		return fmt.Errorf("leaky bucket excess %d (burst %d), last %d", rs.Excess, g.burst, rs.Last)
	}
	g.started, g.excess, g.last = true, rs.Excess, rs.Last
	return nil
}

// dayStart returns the epoch ms of d's UTC date, failing unless d is a
// UTC midnight.
func dayStart(d time.Time) (int64, error) {
	ms := d.UnixMilli()
	if floorDiv(ms, dayMillis)*dayMillis != ms || d.Nanosecond()%1e6 != 0 {
		return 0, fmt.Errorf("date %s is not a UTC midnight", d.UTC().Format(time.RFC3339Nano))
	}
	return ms, nil
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
