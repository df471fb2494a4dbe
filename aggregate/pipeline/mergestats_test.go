package pipeline

import (
	"reflect"
	"testing"

	"github.com/keyrate/keyrate/report/schema"
)

// TestMergeStats: an input's statistics from two ranges read apart add
// up to the whole's, but for the content hash no range holds.
func TestMergeStats(t *testing.T) {
	a := FileStats{Path: "x", Bytes: 10, Length: 10, Lines: 3, Parsed: 2, Malformed: 1, Keyless: 1,
		Hash: "h1", Head: "h1", Format: "combined", TimePrecision: "s", TimeSource: "logged ($time_local)",
		MinTime: 5, MaxTime: 86400_000, Dates: []schema.DateCount{{Date: "1970-01-01", Lines: 1}, {Date: "1970-01-02", Lines: 1}}}
	b := FileStats{Path: "x", Bytes: 7, Length: 7, Lines: 2, Parsed: 2, InvalidKey: 1,
		Hash: "h2", Format: "combined", TimePrecision: "ms", TimeSource: "arrival ($msec - $request_time)",
		MinTime: 1, MaxTime: 2 * 86400_000, Dates: []schema.DateCount{{Date: "1970-01-02", Lines: 1}, {Date: "1970-01-03", Lines: 1}},
		Corrupt: true, CorruptError: "unexpected EOF"}
	MergeStats(&a, &b)
	want := FileStats{Path: "x", Bytes: 17, Length: 17, Lines: 5, Parsed: 4, Malformed: 1, Keyless: 1, InvalidKey: 1,
		Format: "combined", TimePrecision: "ms", TimeSource: "arrival ($msec - $request_time); logged ($time_local)",
		MinTime: 1, MaxTime: 2 * 86400_000, Corrupt: true, CorruptError: "unexpected EOF",
		Dates: []schema.DateCount{{Date: "1970-01-01", Lines: 1}, {Date: "1970-01-02", Lines: 2}, {Date: "1970-01-03", Lines: 1}}}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("merged\n%+v\nwant\n%+v", a, want)
	}
}
