package parse

import "errors"

// A rate limiter decides when a request arrives, but many logs carry the
// time the line was written, after the response: nginx's $msec and
// $time_local, Caddy's ts, an ALB entry's time, a W3C time. A request
// held in a burst queue or behind a slow upstream is logged seconds after
// the limiter saw it, so a replay at the logged time reorders requests
// and spreads out bursts. Where a line carries the request's start, or
// its duration beside the logged time, parsers give the arrival instead,
// and say on every record which time it is (Record.TimeSource).

// Values of FormatOptions.Time: which of a line's times records carry.
const (
	// TimeArrival is the request's arrival where the line gives it or a
	// duration derives it (logged time minus duration), and otherwise
	// the most precise time the line carries. The default.
	TimeArrival = "arrival"
	// TimeLogged is the most precise time as the line carries it, with
	// no duration subtracted.
	TimeLogged = "logged"
)

// ValueTime is the kind of a bad FormatOptions.Time.
const ValueTime ValueKind = "time choice"

// CheckTimeChoice accepts "", TimeArrival and TimeLogged.
func CheckTimeChoice(s string) error {
	switch s {
	case "", TimeArrival, TimeLogged:
		return nil
	}
	return &ValueError{Kind: ValueTime, Value: s, Err: errors.New("want " + TimeArrival + " or " + TimeLogged)}
}

// TimeBasis says what instant a record's time is.
type TimeBasis uint8

const (
	// BasisUnknown: the format does not say. CLF's "[time]" is the
	// request's arrival under Apache (%t) and the time the line was
	// written under nginx ($time_local); a JSON "time" may be either.
	BasisUnknown TimeBasis = iota
	// BasisArrival: when the request arrived, the time a limiter sees.
	BasisArrival
	// BasisLogged: when the line was written, after the response.
	BasisLogged
)

func (b TimeBasis) String() string {
	switch b {
	case BasisArrival:
		return "arrival"
	case BasisLogged:
		return "logged"
	}
	return "unknown"
}

// TimeSource says which of a line's times a record's TimeMillis is and
// how it was derived. Parsers point records at TimeSources they own and
// never change, so records of the same kind share one.
type TimeSource struct {
	Basis TimeBasis
	// From names the time as the format writes it, with what was
	// subtracted: "$msec - $request_time", "$time_local", "StartUTC",
	// "ts - duration", "[time]".
	From string
	// Advice says, for a time that is not the arrival, what to log so
	// that it can be.
	Advice string
}

// String is the manifest's description: "arrival ($msec - $request_time)",
// "logged ($time_local)", "unknown ([time])".
func (s *TimeSource) String() string { return s.Basis.String() + " (" + s.From + ")" }

// The sources of the formats with fixed times.
var (
	clfTimeSource = &TimeSource{Basis: BasisUnknown, From: "[time]",
		Advice: "nginx: $msec and $request_time in a custom log_format; Apache: %{begin:msec}t"}
	apacheCLFTimeSource = &TimeSource{Basis: BasisArrival, From: "%t"}
	haproxyTimeSource   = &TimeSource{Basis: BasisArrival, From: "accept date"}
	albArrivalSource    = &TimeSource{Basis: BasisArrival, From: "request_creation_time"}
	albLoggedSource     = &TimeSource{Basis: BasisLogged, From: "time",
		Advice: "ALB entries carry request_creation_time (since 2018) after the target group, trace and certificate fields; keep all fields"}
)

// Durations are written as seconds with a fraction (nginx $request_time
// "0.123", Caddy's duration, CloudFront's time-taken), as integers in a
// unit the field implies (Traefik's Duration and Caddy's duration_format
// nano in nanoseconds, IIS's time-taken in milliseconds, Apache's %D in
// microseconds), or as Go durations ("1.5ms", Caddy's duration_format
// string).
const (
	nanosecond  = 1
	microsecond = 1000 * nanosecond
	millisecond = 1000 * microsecond
	second      = 1000 * millisecond
	// maxDuration bounds a request's duration (100 days): larger values
	// are not durations, and bounding them keeps the arithmetic exact.
	maxDuration = 100 * 86400 * second
)

// parseDuration reads a request's duration in nanoseconds; intUnit is
// the unit of a plain integer. Digits finer than a nanosecond are
// dropped. A negative duration is not one.
func parseDuration(b []byte, intUnit int64) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var total int64
	for len(b) > 0 {
		i := 0
		var whole int64
		for i < len(b) && isDigit(b[i]) {
			if i >= 15 {
				return 0, false
			}
			whole = whole*10 + int64(b[i]-'0')
			i++
		}
		intDigits, dot := i, false
		fracStart, fracEnd := i, i
		if i < len(b) && b[i] == '.' {
			dot = true
			i++
			fracStart = i
			for i < len(b) && isDigit(b[i]) {
				i++
			}
			fracEnd = i
		}
		if intDigits == 0 && fracEnd == fracStart {
			return 0, false // no digits
		}
		unit, n := durationUnit(b[i:])
		if n == 0 {
			if i < len(b) || total > 0 {
				return 0, false // an unknown unit, or a plain number after units
			}
			unit = intUnit
			if dot {
				unit = second // "0.123": seconds
			}
		}
		if whole > maxDuration/unit {
			return 0, false
		}
		v := whole * unit
		for u, j := unit, fracStart; j < fracEnd && u > 1; j++ {
			u /= 10
			v += int64(b[j]-'0') * u
		}
		if total += v; total > maxDuration {
			return 0, false
		}
		b = b[i+n:]
	}
	return total, true
}

// durationUnit reads a Go duration unit at the start of b and returns it
// in nanoseconds with its length, or 0, 0.
func durationUnit(b []byte) (int64, int) {
	switch {
	case len(b) >= 2 && b[0] == 'n' && b[1] == 's':
		return nanosecond, 2
	case len(b) >= 2 && b[0] == 'u' && b[1] == 's':
		return microsecond, 2
	case len(b) >= 3 && (string(b[:3]) == "µs" || string(b[:3]) == "μs"): // micro sign, Greek mu
		return microsecond, 3
	case len(b) >= 2 && b[0] == 'm' && b[1] == 's':
		return millisecond, 2
	case len(b) >= 1 && b[0] == 's':
		return second, 1
	case len(b) >= 1 && b[0] == 'm':
		return 60 * second, 1
	case len(b) >= 1 && b[0] == 'h':
		return 3600 * second, 1
	}
	return 0, 0
}

// subtractDuration returns the time a request of duration dur (ns) that
// ended at ms (+ sub ns) started. A time of whole seconds (frac false)
// gives whole seconds: its line was written somewhere in that second, so
// the start lies anywhere in a second-long span; the result is the
// second most likely to hold it, the logged second minus the duration
// rounded to whole seconds (0.499 s and less: the logged second).
// Otherwise the start is exact to the nanosecond and truncated to the
// millisecond (nginx's $msec - $request_time: exact, both are the same
// clock's milliseconds).
func subtractDuration(ms, sub int64, frac bool, dur int64) int64 {
	if !frac {
		return ms - (dur+second/2)/second*msPerSecond
	}
	start := ms - dur/millisecond
	if sub -= dur % millisecond; sub < 0 {
		start--
	}
	return start
}

// timeKey names a derivation of a record's time: the time's name and
// basis and the duration's name ("" when none was subtracted).
type timeKey struct {
	time, dur string
	basis     TimeBasis
}

// timeSources hands out one TimeSource per derivation a parser meets.
// The names come from the parser's configuration (field names, layout
// variables), never from the lines, so it stays small; consecutive lines
// almost always share their derivation, which costs one comparison.
type timeSources struct {
	last    *TimeSource
	lastKey timeKey
	all     map[timeKey]*TimeSource
	advice  string // for a time that is not the arrival
}

func (c *timeSources) get(k timeKey) *TimeSource {
	if c.last != nil && k == c.lastKey {
		return c.last
	}
	s := c.all[k]
	if s == nil {
		s = &TimeSource{Basis: k.basis, From: k.time}
		if k.dur != "" {
			s.Basis, s.From = BasisArrival, k.time+" - "+k.dur
		}
		if s.Basis != BasisArrival {
			s.Advice = c.advice
		}
		if c.all == nil {
			c.all = map[timeKey]*TimeSource{}
		}
		c.all[k] = s
	}
	c.last, c.lastKey = s, k
	return s
}
