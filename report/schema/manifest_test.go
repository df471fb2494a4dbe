package schema

import (
	"testing"
	"time"
)

func TestSetInputsSumsAndSpans(t *testing.T) {
	m := &Manifest{Totals: Totals{Keys: 7}}
	m.SetInputs([]InputStats{
		{Bytes: 10, Lines: 5, Parsed: 4, Malformed: 1, Keyless: 1, MinTime: 2000, MaxTime: 9000},
		{Bytes: 3, Lines: 2, Corrupt: true, MinTime: -5, MaxTime: 99999}, // nothing parsed: no time
		{Bytes: 1, Lines: 1, Parsed: 1, InvalidKey: 1, MinTime: 1000, MaxTime: 1000},
	})
	want := Totals{Files: 3, Bytes: 14, Lines: 8, Parsed: 5, Malformed: 1, Keyless: 1, InvalidKey: 1, Keys: 7, CorruptFiles: 1}
	if m.Totals != want {
		t.Errorf("totals %+v, want %+v", m.Totals, want)
	}
	if m.TimeRange == nil || !m.TimeRange.First.Equal(time.UnixMilli(1000)) || !m.TimeRange.Last.Equal(time.UnixMilli(9000)) {
		t.Errorf("time range %+v, want 1000..9000 ms", m.TimeRange)
	}
	m.SetInputs(nil)
	if m.TimeRange != nil || m.Totals != (Totals{Keys: 7}) {
		t.Errorf("no inputs: %+v %+v", m.TimeRange, m.Totals)
	}
}
