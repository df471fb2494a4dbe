package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Limit is a fixed-window rate limit: at most Allowed requests per window
// of WindowMillis, windows aligned to the UTC epoch.
type Limit struct {
	Name         string // as the user wrote it, e.g. "100/min"; reports use it
	Allowed      int64
	WindowMillis int64
}

var unitMillis = map[string]int64{
	"ms": 1, "s": 1000, "sec": 1000, "min": 60_000, "h": 3_600_000, "hour": 3_600_000, "day": 86_400_000,
}

// ParseLimit reads a --limit spec: N/UNIT or N/MULTIPLE UNIT, as in
// "100/min", "10/s", "5000/10s", "100000/day". Units: ms, s, min, h, day.
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
	unit, ok := unitMillis[per[i:]]
	if !ok {
		return Limit{}, fmt.Errorf("limit %q: unknown unit %q (want s, min, h or day)", spec, per[i:])
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
