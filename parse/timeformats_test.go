package parse

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestTimeLayoutsAgainstTimePackage formats random instants with the
// standard library in every supported layout and checks that the
// hand-written parsers agree with it (truncated to milliseconds).
func TestTimeLayoutsAgainstTimePackage(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	zones := []*time.Location{time.UTC, time.FixedZone("", -7*3600), time.FixedZone("", 3*3600+30*60), time.FixedZone("", 14*3600)}
	for range 5000 {
		sec := r.Int64N(4102444800) // 1970..2100
		ns := r.Int64N(1e9)
		tm := time.Unix(sec, ns).In(zones[r.IntN(len(zones))])
		wantMs := tm.UnixMilli()
		wantS := tm.Unix() * 1000
		check := func(name string, got int64, frac, ok bool, want int64, wantFrac bool) {
			t.Helper()
			if !ok || got != want || frac != wantFrac {
				t.Fatalf("%s(%v) = %d, %v, %v; want %d, %v", name, tm, got, frac, ok, want, wantFrac)
			}
		}
		ms, ok := ParseCLFTime([]byte(tm.Format("02/Jan/2006:15:04:05 -0700")))
		check("ParseCLFTime", ms, false, ok, wantS, false)
		ms, frac, ok := ParseISO8601([]byte(tm.Format(time.RFC3339Nano)))
		check("ParseISO8601 nano", ms, frac, ok, wantMs, ns >= 1 && tm.Format(time.RFC3339Nano) != tm.Format(time.RFC3339))
		ms, frac, ok = ParseISO8601([]byte(tm.Format("2006-01-02T15:04:05.000-0700")))
		check("ParseISO8601 ms", ms, frac, ok, wantMs, true)
		ms, frac, ok = ParseISO8601([]byte(tm.UTC().Format("2006-01-02 15:04:05")))
		check("ParseISO8601 no offset", ms, frac, ok, wantS, false)
		ms, frac, ok = ParseW3CTime([]byte(tm.UTC().Format("2006-01-02")), []byte(tm.UTC().Format("15:04:05.000")))
		check("ParseW3CTime", ms, frac, ok, wantMs, true)
		ms, frac, ok = ParseCLFTimeFrac([]byte(tm.UTC().Format("02/Jan/2006:15:04:05.000")))
		check("ParseCLFTimeFrac", ms, frac, ok, wantMs, true)
		ms, frac, ok = ParseEpoch([]byte(strconv.FormatInt(sec, 10)))
		check("ParseEpoch s", ms, frac, ok, wantS, false)
		ms, frac, ok = ParseAnyTime([]byte(strconv.FormatInt(wantMs, 10)))
		if sec >= 1e9 { // 13 digits: milliseconds
			check("ParseAnyTime ms", ms, frac, ok, wantMs, true)
		}
		ms, frac, ok = ParseAnyTime([]byte("[" + tm.Format("02/Jan/2006:15:04:05 -0700") + "]"))
		check("ParseAnyTime clf", ms, frac, ok, wantS, false)
	}
}

func TestTimeLayoutsReject(t *testing.T) {
	for _, s := range []string{"", "2021-02-29T00:00:00Z", "2021-13-01T00:00:00Z", "2021-01-01T24:00:00Z", "2021-01-01T00:00:00.Z",
		"2021-01-01T00:00:00+25:00", "2021-01-01T00:00:00.1234567890Z", "2021-01-01X00:00:00Z", "2021-01-01T00:00:00 junk"} {
		if _, _, ok := ParseISO8601([]byte(s)); ok {
			t.Errorf("ParseISO8601(%q) accepted", s)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"1700000000", 1700000000000}, {"1700000000123", 1700000000123}, {"1700000000123456", 1700000000123},
		{"1700000000123456789", 1700000000123}, {"0", 0}, {"1.5", 1500},
	} {
		if ms, _, ok := ParseEpoch([]byte(c.in)); !ok || ms != c.want {
			t.Errorf("ParseEpoch(%q) = %d, %v; want %d", c.in, ms, ok, c.want)
		}
	}
	for _, s := range []string{"", ".5", "12a", "1.2.3", "17000000001234567x", "170000000012345678x", "12345678901234567890", "1700000000000.5", "17000000001234567a9"} {
		if _, _, ok := ParseEpoch([]byte(s)); ok {
			t.Errorf("ParseEpoch(%q) accepted", s)
		}
	}
	if ms, frac, ok := ParseEpoch([]byte("1716723772.6014807")); !ok || ms != 1716723772601 || !frac {
		t.Errorf("ParseEpoch(fraction) = %d, %v, %v", ms, frac, ok)
	}
	for _, c := range [][2]string{{"2015-01-13", "25:00:00"}, {"2015/01/13", "00:00:00"}, {"2015-01-13", "00:00:00x"}} {
		if _, _, ok := ParseW3CTime([]byte(c[0]), []byte(c[1])); ok {
			t.Errorf("ParseW3CTime(%q) accepted", c)
		}
	}
}
