package report

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimeAppenderMatchesAppendFormat: the hand-written timestamp cell is
// byte for byte what AppendFormat(csvTimeLayout) writes for the UTC
// instant, on random instants in runs of nearby times (the day cache) and
// jumps between them: before 1970, around leap days, at the ends of the
// four-digit years and beyond them, in other zones, with and without
// milliseconds and with nanoseconds the layout truncates.
func TestTimeAppenderMatchesAppendFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -8*3600)}
	year := func(y int) int64 { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }
	anchors := []int64{
		0, -1, secondsPerDay, -secondsPerDay,
		time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC).Unix(),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC).Unix(),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).Unix(),
		time.Date(1600, 2, 29, 12, 0, 0, 0, time.UTC).Unix(),
		year(0), year(1), year(10000) - 1, year(10000), year(-1), year(12345),
		day0.Unix(),
	}
	nanos := func() int {
		switch r.IntN(5) {
		case 0:
			return 0
		case 1:
			return r.IntN(1000) * 1e6 // whole milliseconds
		case 2:
			return []int{100e6, 120e6, 10e6, 1e6, 999e6}[r.IntN(5)]
		case 3:
			return r.IntN(1e6) // below a millisecond: no fraction shown
		}
		return r.IntN(1e9)
	}
	var a timeAppender
	var got, want []byte
	sec := int64(0)
	for i := range 500_000 {
		switch r.IntN(10) {
		case 0: // anywhere in years -2000 .. 12000
			sec = year(-2000) + r.Int64N(year(12000)-year(-2000))
		case 1:
			sec = anchors[r.IntN(len(anchors))] + r.Int64N(5) - 2
		case 2: // a day or so away
			sec += r.Int64N(3*secondsPerDay) - secondsPerDay
		default: // the next row of the same key
			sec += r.Int64N(120)
		}
		tm := time.Unix(sec, int64(nanos())).In(zones[r.IntN(len(zones))])
		got = a.append(got[:0], tm)
		want = tm.UTC().AppendFormat(want[:0], csvTimeLayout)
		if string(got) != string(want) {
			t.Fatalf("row %d, %s (unix %d.%09d): got %s, want %s", i, tm, tm.Unix(), tm.Nanosecond(), got, want)
		}
	}
}

func TestTimeAppenderAllocatesNothing(t *testing.T) {
	var a timeAppender
	b := make([]byte, 0, 64)
	tm := day0.Add(90*time.Second + 120*time.Millisecond)
	if allocs := testing.AllocsPerRun(100, func() { b = a.append(b[:0], tm) }); allocs != 0 {
		t.Errorf("append allocates %.1f times", allocs)
	}
}

// unixDay must agree with the UTC calendar date that names partitions,
// on both sides of 1970 and at midnight exactly.
func TestUnixDayIsTheUTCDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200_000 {
		sec := rng.Int64N(8_000_000_000) - 4_000_000_000
		if i%4 == 0 {
			sec -= sec % 86400 // midnight
		}
		tm := time.Unix(sec, rng.Int64N(1e9)).In(time.FixedZone("x", rng.IntN(50_000)-25_000))
		y, m, d := tm.UTC().Date()
		want := int64(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(epoch) / (24 * time.Hour))
		if got := unixDay(tm); got != want {
			t.Fatalf("unixDay(%v) = %d, want %d", tm, got, want)
		}
	}
}
