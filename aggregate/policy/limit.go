package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Limit is a fixed-window rate limit: at most Allowed requests per window
// of WindowMillis, windows aligned to the UTC epoch, or per calendar
// window (Calendar set, WindowMillis 0).
type Limit struct {
	Name         string // as the user wrote it, e.g. "100/min"; reports use it
	Allowed      int64
	WindowMillis int64
	Calendar     Calendar
}

// MaxWindowMillis is the longest window a rule may have, and the longest
// report bucket: 365 days. Parsing accepts times up to the end of year
// 9998 (parse.MaxTimeMillis), so every window keyrate writes ends within
// year 9999, the last that RFC 3339 can write. A calendar year is the
// window for longer periods.
const MaxWindowMillis = 365 * dayMillis

var unitMillis = map[string]int64{
	"ms": 1, "s": 1000, "sec": 1000, "min": 60_000, "h": 3_600_000, "hour": 3_600_000, "day": dayMillis,
}

// calendarUnits are the units of calendar windows, as in a policy file.
var calendarUnits = map[string]Calendar{"week": Week, "month": Month, "year": Year}

// ParseLimit reads a --limit spec: N/UNIT or N/MULTIPLE UNIT, as in
// "100/min", "10/s", "5000/10s", "100000/day". Units: ms, s, min, h, day,
// windows aligned to the epoch, of at most 365 days; and week (ISO,
// from Monday), month and year, calendar windows as a policy file's.
func ParseLimit(spec string) (Limit, error) {
	ns, per, ok := strings.Cut(spec, "/")
	if !ok {
		return Limit{}, fmt.Errorf("limit %q: want N/UNIT, as in 100/min", spec)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("limit %q: %q is not a request count", spec, ns)
	}
	i := 0
	for i < len(per) && per[i] >= '0' && per[i] <= '9' {
		i++
	}
	mult := int64(1)
	if i > 0 {
		if mult, err = strconv.ParseInt(per[:i], 10, 64); err != nil || mult <= 0 {
			return Limit{}, fmt.Errorf("limit %q: bad window multiple %q", spec, per[:i])
		}
	}
	if cal, ok := calendarUnits[per[i:]]; ok {
		if i > 0 {
			return Limit{}, fmt.Errorf("limit %q: a calendar window (week, month, year) takes no multiple; for fixed windows of several days write N/%dday", spec, 7*mult)
		}
		return Limit{Name: spec, Allowed: n, Calendar: cal}, nil
	}
	unit, ok := unitMillis[per[i:]]
	if !ok {
		return Limit{}, fmt.Errorf("limit %q: unknown unit %q (want s, min, h, day, week, month or year)", spec, per[i:])
	}
	if mult > MaxWindowMillis/unit {
		return Limit{}, fmt.Errorf("limit %q: windows of more than 365 days are not supported (for calendar years, N/year)", spec)
	}
	return Limit{Name: spec, Allowed: n, WindowMillis: mult * unit}, nil
}

// windowStart returns the start of the epoch-aligned window holding ts.
func windowStart(ts, width int64) int64 {
	start := ts - ts%width
	if ts < 0 && ts%width != 0 {
		start -= width // floor, not truncation, before 1970
	}
	return start
}
