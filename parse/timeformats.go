package parse

// Timestamp layouts beyond CLF. Every function returns UTC milliseconds
// since the epoch and whether the text carried a sub-second fraction
// (frac), so callers can record the precision an input really has.
// Fractions finer than a millisecond are truncated, never rounded, so a
// time never moves into the next millisecond (or window).

// parseFraction reads ".ddd..." (or ",ddd...") at the start of b and
// returns the milliseconds, the nanoseconds below them (sub), the bytes
// consumed and whether a fraction was present. At most 9 digits are
// accepted.
func parseFraction(b []byte) (ms, sub int64, n int, frac bool, ok bool) {
	if len(b) == 0 || (b[0] != '.' && b[0] != ',') {
		return 0, 0, 0, false, true
	}
	i := 1
	var ns int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i <= 9 {
			ns = ns*10 + int64(b[i]-'0')
		}
		i++
	}
	digitsRead := i - 1
	if digitsRead == 0 || digitsRead > 9 {
		return 0, 0, 0, false, false
	}
	for d := digitsRead; d < 9; d++ {
		ns *= 10
	}
	return ns / 1e6, ns % 1e6, i, true, true
}

// ParseISO8601 parses "2006-01-02T15:04:05[.fff...][Z|±hh:mm|±hhmm]"; a
// space may replace the 'T', and a time without an offset is taken as UTC.
func ParseISO8601(b []byte) (ms int64, frac bool, ok bool) {
	ms, _, frac, ok = parseISO8601(b)
	return ms, frac, ok
}

// parseISO8601 is ParseISO8601 that also returns the nanoseconds below
// the millisecond (sub), for arithmetic on times finer than it.
func parseISO8601(b []byte) (ms, sub int64, frac bool, ok bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, 0, false, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	h, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	s, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, 0, false, false
	}
	return finishTime(y, mo, d, h, mi, s, b[19:], false)
}

// finishTime reads what may follow the seconds: a fraction, then an
// offset (after a space when spaced; absent means UTC), and converts the
// validated civil time to UTC milliseconds, with the nanoseconds below
// them.
func finishTime(y, mo, d, h, mi, s int64, rest []byte, spaced bool) (ms, sub int64, frac, ok bool) {
	fms, sub, n, frac, ok := parseFraction(rest)
	if !ok {
		return 0, 0, false, false
	}
	rest = rest[n:]
	var off int64
	if len(rest) > 0 {
		if spaced {
			if rest[0] != ' ' {
				return 0, 0, false, false
			}
			rest = rest[1:]
		}
		if off, ok = parseOffset(rest); !ok {
			return 0, 0, false, false
		}
	}
	local, ok := civilMillis(y, mo, d, h, mi, s, fms)
	if !ok {
		return 0, 0, false, false
	}
	return local - off, sub, frac, true
}

// ParseEpoch parses a Unix time: integer seconds, seconds with a fraction
// ("1716723772.6014807"), or an integer count of milliseconds (13-15
// digits, as JavaScript and Java loggers write), microseconds (16-18
// digits, Apache %{usec}t) or nanoseconds (19 digits). The unit of an
// integer is told by its length, which holds for times after 2001. frac
// is true for every unit finer than a second.
func ParseEpoch(b []byte) (ms int64, frac bool, ok bool) {
	ms, _, frac, ok = parseEpoch(b)
	return ms, frac, ok
}

// parseEpoch is ParseEpoch that also returns the nanoseconds below the
// millisecond (sub).
func parseEpoch(b []byte) (ms, sub int64, frac bool, ok bool) {
	intPart := b
	dot := indexByte(b, '.')
	if dot >= 0 {
		intPart = b[:dot]
	}
	n := len(intPart)
	if n == 0 || n > 19 {
		return 0, 0, false, false
	}
	if dot >= 0 {
		if n > 12 {
			return 0, 0, false, false // sub-second units with a fraction: not a layout anyone writes
		}
		secs, ok := digits(intPart)
		fms, sub, used, _, ok2 := parseFraction(b[dot:])
		if !ok || !ok2 || used != len(b)-dot {
			return 0, 0, false, false
		}
		return secs*msPerSecond + fms, sub, true, true
	}
	// Drop the digits finer than a millisecond before converting; they
	// are the nanoseconds below it.
	keep, scale := n, int64(0)
	switch {
	case n <= 12:
		secs, ok := digits(intPart)
		return secs * msPerSecond, 0, false, ok
	case n <= 15:
	case n <= 18:
		keep, scale = n-3, 1000 // microseconds
	default:
		keep, scale = n-6, 1 // nanoseconds
	}
	if keep < n {
		rest, ok := digits(intPart[keep:])
		if !ok {
			return 0, 0, false, false
		}
		sub = rest * scale
	}
	v, ok := digits(intPart[:keep])
	return v, sub, true, ok
}

// ParseW3CTime parses the W3C extended log's separate date ("2006-01-02")
// and time ("15:04:05" with an optional fraction) columns, which are UTC
// by the W3C definition (IIS writes UTC in "date"/"time").
func ParseW3CTime(date, clock []byte) (ms int64, frac bool, ok bool) {
	ms, _, frac, ok = parseW3CTime(date, clock)
	return ms, frac, ok
}

func parseW3CTime(date, clock []byte) (ms, sub int64, frac bool, ok bool) {
	if len(date) != 10 || date[4] != '-' || date[7] != '-' || len(clock) < 8 || clock[2] != ':' || clock[5] != ':' {
		return 0, 0, false, false
	}
	y, ok1 := digits(date[0:4])
	mo, ok2 := digits(date[5:7])
	d, ok3 := digits(date[8:10])
	h, ok4 := digits(clock[0:2])
	mi, ok5 := digits(clock[3:5])
	s, ok6 := digits(clock[6:8])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, 0, false, false
	}
	if len(clock) > 8 && clock[8] != '.' && clock[8] != ',' {
		return 0, 0, false, false // W3C times carry no offset
	}
	return finishTime(y, mo, d, h, mi, s, clock[8:], false)
}

// ParseCLFTimeFrac parses CLF times that may carry a fraction and may lack
// the offset, as HAProxy writes them: "30/Jul/2018:09:03:52.726". A time
// without an offset is taken as UTC.
func ParseCLFTimeFrac(b []byte) (ms int64, frac bool, ok bool) {
	ms, _, frac, ok = parseCLFTimeFrac(b)
	return ms, frac, ok
}

func parseCLFTimeFrac(b []byte) (ms, sub int64, frac bool, ok bool) {
	if len(b) < 20 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' {
		return 0, 0, false, false
	}
	d, ok1 := digits(b[0:2])
	mo, ok2 := monthNumber(b[3:6])
	y, ok3 := digits(b[7:11])
	h, ok4 := digits(b[12:14])
	mi, ok5 := digits(b[15:17])
	s, ok6 := digits(b[18:20])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, 0, false, false
	}
	return finishTime(y, mo, d, h, mi, s, b[20:], true)
}

// ParseAnyTime tries every supported layout: CLF (with or without
// fraction/offset), ISO 8601, and epoch seconds or milliseconds. It is
// used for columns whose layout is not fixed by the format (JSON fields,
// layout variables, Parquet strings).
func ParseAnyTime(b []byte) (ms int64, frac bool, ok bool) {
	ms, _, frac, ok = parseAnyTime(b)
	return ms, frac, ok
}

// parseAnyTime is ParseAnyTime that also returns the nanoseconds below
// the millisecond (sub): subtracting a duration from a time finer than a
// millisecond (Caddy's ts, Apache's %{usec}t) must not round twice.
func parseAnyTime(b []byte) (ms, sub int64, frac bool, ok bool) {
	if len(b) == 0 {
		return 0, 0, false, false
	}
	if len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	if len(b) >= 20 && b[2] == '/' {
		if ms, ok := ParseCLFTime(b); ok {
			return ms, 0, false, true
		}
		return parseCLFTimeFrac(b)
	}
	if len(b) >= 19 && b[4] == '-' {
		return parseISO8601(b)
	}
	return parseEpoch(b)
}
