package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Algorithm names a throttling algorithm as gateways implement it.
type Algorithm string

const (
	// Fixed counts requests per window aligned to the UTC epoch (or to
	// UTC calendar boundaries): at most Limit accepted per window.
	Fixed Algorithm = "fixed"
	// Sliding is an exact rolling window: at most Limit accepted in any
	// interval (t − Window, t].
	Sliding Algorithm = "sliding"
	// TokenBucket holds Burst tokens, is full at a key's first request and
	// refills continuously at Rate tokens per second; a request takes one
	// token or is rejected (AWS API Gateway, Envoy).
	TokenBucket Algorithm = "token-bucket"
	// LeakyBucket is nginx's limit_req, computed exactly as nginx does.
	LeakyBucket Algorithm = "leaky-bucket"
)

// Calendar selects calendar-aligned fixed windows instead of durations.
type Calendar string

const (
	NoCalendar Calendar = ""
	Day        Calendar = "day"
	Week       Calendar = "week" // ISO week, starting Monday 00:00 UTC
	Month      Calendar = "month"
	Year       Calendar = "year"
)

// Rule is one limit of a plan, compiled: the parameters an evaluator
// needs, with every unit already resolved.
type Rule struct {
	// Name is the limit's name as written; report rows carry it.
	Name      string
	Algorithm Algorithm
	// Limit is the fixed and sliding windows' capacity.
	Limit int64
	// WindowMillis is the fixed window's or the sliding window's width;
	// for calendar windows it is 0 and Calendar is set.
	WindowMillis int64
	Calendar     Calendar
	// RateMicro is the token bucket's refill rate in millionths of a
	// token per second (so that refills are exact integers).
	RateMicro int64
	// Burst is the token bucket's capacity, or nginx's burst.
	Burst int64
	// NginxRate is nginx's ctx->rate: requests per second times 1000,
	// as nginx stores it ("10r/s" is 10000, "30r/m" is 500).
	NginxRate int64
	// Filter is the index of the request filter whose requests this rule
	// counts (Policy.Filters), or -1 for all of the key's requests.
	Filter int
	// PerAccount counts all keys of an account together.
	PerAccount bool
}

// WindowText is a fixed or sliding rule's window as a policy file writes
// it: a calendar period ("day", "month"), or the width in the largest
// unit that divides it ("1m", "24h", "1500ms"; never "d", which would
// read as the calendar day). Empty for the other algorithms.
func (r *Rule) WindowText() string {
	if r.Algorithm != Fixed && r.Algorithm != Sliding {
		return ""
	}
	if r.Calendar != NoCalendar {
		return string(r.Calendar)
	}
	for _, u := range []struct {
		ms   int64
		unit string
	}{{3_600_000, "h"}, {60_000, "m"}, {1000, "s"}} {
		if r.WindowMillis >= u.ms && r.WindowMillis%u.ms == 0 {
			return strconv.FormatInt(r.WindowMillis/u.ms, 10) + u.unit
		}
	}
	return strconv.FormatInt(r.WindowMillis, 10) + "ms"
}

// Limits on parameters keep every evaluator's integer arithmetic exact
// and free of overflow.
const (
	MaxBurst     = 1_000_000_000
	MaxRateMicro = 1_000_000_000 * 1_000_000 // 1e9 tokens per second
	maxNginxRate = 1_000_000_000 * 1000
)

// Validate reports a rule whose parameters no evaluator can run.
func (r *Rule) Validate() error {
	switch r.Algorithm {
	case Fixed:
		if r.Limit < 0 {
			return fmt.Errorf("limit must be at least 0")
		}
		if r.Calendar == NoCalendar && r.WindowMillis <= 0 {
			return fmt.Errorf("window must be positive")
		}
		if r.WindowMillis > MaxWindowMillis {
			return errWindowTooLong
		}
	case Sliding:
		if r.Limit < 0 {
			return fmt.Errorf("limit must be at least 0")
		}
		if r.WindowMillis <= 0 || r.Calendar != NoCalendar {
			return fmt.Errorf("sliding window must be a positive duration")
		}
		if r.WindowMillis > MaxWindowMillis {
			return errWindowTooLong
		}
	case TokenBucket:
		if r.RateMicro <= 0 || r.RateMicro > MaxRateMicro {
			return fmt.Errorf("rate must be above 0 and at most 1e9 per second")
		}
		if r.Burst < 1 || r.Burst > MaxBurst {
			return fmt.Errorf("burst must be between 1 and %d", MaxBurst)
		}
	case LeakyBucket:
		if r.NginxRate <= 0 || r.NginxRate > maxNginxRate {
			return fmt.Errorf("rate must be above 0")
		}
		if r.Burst < 0 || r.Burst > MaxBurst {
			return fmt.Errorf("burst must be between 0 and %d", MaxBurst)
		}
	default:
		return fmt.Errorf("unknown algorithm %q", r.Algorithm)
	}
	return nil
}

var errWindowTooLong = errors.New("window is longer than 365 days (for longer periods, a calendar window: year)")

// RateMicroOf converts a rate in tokens per second to millionths of a
// token per second, failing when that is not a whole number (more than
// six decimals) so that refills stay exact.
func RateMicroOf(rate float64) (int64, bool) {
	if !(rate > 0) || rate > MaxRateMicro/1e6 {
		return 0, false
	}
	// A rate written with at most 6 decimals is the float64 nearest to
	// m/1e6, which is what dividing the exact integer m by 1e6 gives back
	// (m < 2^53). Any further decimal names another number: refused,
	// since it would be silently rounded. (A tolerance relative to m let
	// a 7th decimal through for every rate from about 1/s up.)
	m := math.Round(rate * 1e6)
	if m/1e6 != rate {
		return 0, false
	}
	return int64(m), true
}

// fixedWindow returns the fixed window [start, end) of r holding ts.
func (r *Rule) fixedWindow(ts int64) (start, end int64) {
	switch r.Calendar {
	case NoCalendar:
		start = windowStart(ts, r.WindowMillis)
		return start, start + r.WindowMillis
	case Day:
		start = windowStart(ts, dayMillis)
		return start, start + dayMillis
	case Week:
		// 1970-01-01 was a Thursday, so Mondays are epoch days 4 + 7k.
		start = windowStart(ts-4*dayMillis, 7*dayMillis) + 4*dayMillis
		return start, start + 7*dayMillis
	}
	t := time.UnixMilli(ts).UTC()
	var s, e time.Time
	if r.Calendar == Month {
		s = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(0, 1, 0)
	} else {
		s = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		e = s.AddDate(1, 0, 0)
	}
	return s.UnixMilli(), e.UnixMilli()
}

const dayMillis = 86_400_000
