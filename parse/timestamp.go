package parse

// Time parsing is on the hot path of every line, so it is hand-written over
// bytes instead of going through time.Parse, and converts straight to UTC
// milliseconds with a civil-date formula.

import "encoding/binary"

const (
	msPerSecond = 1000
	msPerMinute = 60 * msPerSecond
)

// daysFromCivil returns the number of days since 1970-01-01 of the
// proleptic Gregorian date y-m-d (Howard Hinnant's days_from_civil).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var monthDays = [13]int64{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// civilMillis validates a broken-down local time and returns it as
// milliseconds since the epoch, before any offset is applied.
func civilMillis(y, mo, d, h, mi, s, ms int64) (int64, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > monthDays[mo] || (mo == 2 && d == 29 && !isLeap(y)) {
		return 0, false
	}
	// 60 seconds admits a leap second, which folds into the next second.
	if h > 23 || mi > 59 || s > 60 || ms > 999 {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	return ((days*24+h)*60+mi)*msPerMinute + s*msPerSecond + ms, true
}

// digits parses a run of decimal digits; more than 18 digits (which could
// overflow int64) are rejected.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func monthNumber(b []byte) (int64, bool) {
	if len(b) != 3 {
		return 0, false
	}
	// Case-fold so "OCT" and "oct" parse too; a switch over the packed
	// bytes avoids a map lookup per line.
	switch uint32(b[0]&^0x20)<<16 | uint32(b[1]|0x20)<<8 | uint32(b[2]|0x20) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1, true
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2, true
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3, true
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4, true
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5, true
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6, true
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7, true
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8, true
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9, true
	case 'O'<<16 | 'c'<<8 | 't':
		return 10, true
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11, true
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12, true
	}
	return 0, false
}

// parseOffset reads "+hhmm", "-hhmm", "+hh:mm" or "Z" and returns the
// offset east of UTC in milliseconds.
func parseOffset(b []byte) (int64, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) == 6 && b[3] == ':' {
		b = []byte{b[0], b[1], b[2], b[4], b[5]}
	}
	if len(b) != 5 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	hh, ok1 := digits(b[1:3])
	mm, ok2 := digits(b[3:5])
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, false
	}
	off := (hh*60 + mm) * msPerMinute
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// ParseCLFTime parses the Common Log Format time "10/Oct/2000:13:55:36 -0700"
// (without brackets) and returns UTC milliseconds since the epoch.
func ParseCLFTime(b []byte) (int64, bool) {
	// dd/Mon/yyyy:hh:mm:ss +zzzz is exactly 26 bytes.
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	d, ok1 := digits(b[0:2])
	mo, ok2 := monthNumber(b[3:6])
	y, ok3 := digits(b[7:11])
	h, ok4 := digits(b[12:14])
	mi, ok5 := digits(b[15:17])
	s, ok6 := digits(b[18:20])
	off, ok7 := parseOffset(b[21:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, false
	}
	local, ok := civilMillis(y, mo, d, h, mi, s, 0)
	if !ok {
		return 0, false
	}
	return local - off, true
}

// CLFTimeCache parses CLF times like ParseCLFTime, remembering the last
// time's minute ("dd/Mon/yyyy:hh:mm" and the offset): consecutive log
// lines almost always share it, and then only the seconds are parsed.
// The zero value is ready to use; it is not safe for concurrent use.
//
// The cached text is kept as words loaded from it, so that a line's time
// is checked against it with four loads and compares rather than calls
// comparing byte strings.
type CLFTimeCache struct {
	lo, mid uint64 // bytes 0-15 of the cached time: "dd/Mon/yyyy:hh:m"
	tail    uint16 // bytes 16-17: the minute's last digit and ':'
	offset  uint64 // bytes 18-25 with the seconds (18, 19) masked: " +hhmm"
	base    int64  // UTC millis of second 00 of that minute
	valid   bool
}

// clfSecondsMask clears the seconds from a load of a CLF time's bytes 18-25.
const clfSecondsMask = ^uint64(0xffff)

// Parse is ParseCLFTime with the minute cache.
func (c *CLFTimeCache) Parse(b []byte) (int64, bool) {
	if len(b) == 26 && c.valid &&
		binary.LittleEndian.Uint64(b) == c.lo && binary.LittleEndian.Uint64(b[8:]) == c.mid &&
		binary.LittleEndian.Uint16(b[16:]) == c.tail && binary.LittleEndian.Uint64(b[18:])&clfSecondsMask == c.offset {
		// The cached text held ':' at 17 and ' ' at 20, so b does too.
		// Seconds 00-59 are linear in the minute; anything else (a leap
		// second, garbage) takes ParseCLFTime's path so both agree.
		if s0, s1 := b[18]-'0', b[19]-'0'; s0 <= 5 && s1 <= 9 {
			return c.base + int64(s0*10+s1)*msPerSecond, true
		}
	}
	ms, ok := ParseCLFTime(b)
	if !ok {
		return 0, false
	}
	sec := int64(b[18]-'0')*10 + int64(b[19]-'0')
	c.lo, c.mid = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	c.tail = binary.LittleEndian.Uint16(b[16:])
	c.offset = binary.LittleEndian.Uint64(b[18:]) & clfSecondsMask
	c.base = ms - sec*msPerSecond
	c.valid = true
	return ms, true
}
