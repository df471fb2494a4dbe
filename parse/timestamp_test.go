package parse

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseCLFTimeMatchesStdlib compares the hand-written parser with
// time.Parse, the obviously correct reference, on random instants and
// offsets, including leap days and year boundaries.
func TestParseCLFTimeMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const layout = "02/Jan/2006:15:04:05 -0700"
	for range 20000 {
		sec := r.Int64N(4102444800) // 1970..2100
		off := (r.IntN(26*4+1) - 12*4) * 15 * 60
		tm := time.Unix(sec, 0).In(time.FixedZone("", off))
		s := tm.Format(layout)
		got, ok := ParseCLFTime([]byte(s))
		if !ok {
			t.Fatalf("ParseCLFTime(%q) failed", s)
		}
		if got != sec*1000 {
			t.Fatalf("ParseCLFTime(%q) = %s, want %s", s, time.UnixMilli(got).UTC(), time.Unix(sec, 0).UTC())
		}
	}
}

func TestParseCLFTimeRejects(t *testing.T) {
	for _, s := range []string{
		"", "10/Oct/2000:13:55:36", "10/Oct/2000:13:55:36 0700", "32/Oct/2000:13:55:36 -0700",
		"29/Feb/2001:00:00:00 +0000", "10/Oct/2000:24:00:00 +0000", "10/Oct/2000 13:55:36 -0700",
		"1x/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:36 -07:0", "10/Oct/2000:13:55:36 +2400",
	} {
		if _, ok := ParseCLFTime([]byte(s)); ok {
			t.Errorf("ParseCLFTime(%q) accepted", s)
		}
	}
	if got, ok := ParseCLFTime([]byte("29/Feb/2000:00:00:00 +0000")); !ok || got != 951782400000 {
		t.Errorf("leap day 2000: got %d, %v", got, ok)
	}
	if got, ok := ParseCLFTime([]byte("10/oct/2000:13:55:36 -0700")); !ok || got != 971211336000 {
		t.Errorf("lower-case month: got %d, %v", got, ok)
	}
}
