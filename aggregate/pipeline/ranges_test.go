package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/report/schema"
)

// The ranges of a run (every class alike, from several workers' States)
// read one after another give exactly the whole run.
func TestRangesConcatenateToTheWholeRun(t *testing.T) {
	paths := mixedInputs(t)
	cfg := Config{
		Format: "auto", KeySources: []string{"query:api_key"}, ThrottleStatus: []int{429},
		MaxLineBytes: 300, SkipCorrupt: true, Workers: 3, BlockBytes: 4096,
		Filters: []policy.RequestFilter{{Methods: []string{"POST"}}, {ExcludeStatus: []int{404}}},
	}
	res, err := Run(context.Background(), paths, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	whole := dumpResult(t, res)
	for _, n := range []int{2, 5, 64} {
		ranges := res.ranges(n)
		if len(ranges) < 2 || len(ranges) > n {
			t.Fatalf("n=%d: %d ranges", n, len(ranges))
		}
		var all []point
		classes := map[aggregate.Class][]point{}
		for _, in := range ranges {
			all = append(all, points(aggregate.ClassUnion(in, nil))...)
			for _, c := range in {
				classes[c.Class] = append(classes[c.Class], points(c.Partials)...)
			}
		}
		if !reflect.DeepEqual(all, whole.all) || !reflect.DeepEqual(classes, whole.classes) {
			t.Errorf("n=%d: the ranges differ from the whole run (%d vs %d points)", n, len(all), len(whole.all))
		}
	}
	// Spilled runs are read front to back: no ranges then.
	cfg.MemoryBytes, cfg.TmpDir = 1, t.TempDir()
	spilled, err := Run(context.Background(), paths, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer spilled.Close()
	if spilled.Spills == 0 || spilled.ranges(4) != nil {
		t.Errorf("a run with %d spills split into ranges", spilled.Spills)
	}
}

// rangeRows evaluates a fake range: one window row per key of the range,
// after a pause that makes later ranges finish first.
func rangeRows(keys []string, pause time.Duration) func(int, policy.Inputs, policy.Sink) error {
	return func(i int, _ policy.Inputs, out policy.Sink) error {
		time.Sleep(pause * time.Duration(len(keys)-i))
		return out.Window(&schema.WindowRow{Key: keys[i]})
	}
}

type windowKeys struct{ keys []string }

func (w *windowKeys) Window(r *schema.WindowRow) error {
	w.keys = append(w.keys, r.Key)
	return nil
}
func (w *windowKeys) Violation(*schema.ViolationRow) error         { return nil }
func (w *windowKeys) Key(*schema.KeyRow) error                     { return nil }
func (w *windowKeys) Audit(*schema.AuditRow) error                 { return nil }
func (w *windowKeys) Usage(*schema.UsageRow) error                 { return nil }
func (w *windowKeys) FalseThrottle(*schema.FalseThrottleRow) error { return nil }

func TestInRangesKeepsRangeOrderAndBoundsConcurrency(t *testing.T) {
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	ranges := make([]policy.Inputs, len(keys))
	var running, most atomic.Int64
	eval := rangeRows(keys, 50*time.Microsecond)
	counted := func(i int, in policy.Inputs, out policy.Sink) error {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer running.Add(-1)
		return eval(i, in, out)
	}
	var sink windowKeys
	if err := inRanges(ranges, 3, &sink, counted); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sink.keys, keys) {
		t.Fatalf("rows in order %v", sink.keys)
	}
	if most.Load() > 3 {
		t.Fatalf("%d ranges ran at once, want at most 3", most.Load())
	}
}

func TestInRangesReturnsTheFirstErrorAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	boom := errors.New("boom")
	ranges := make([]policy.Inputs, 50)
	var started atomic.Int64
	var sink windowKeys
	err := inRanges(ranges, 2, &sink, func(i int, _ policy.Inputs, out policy.Sink) error {
		started.Add(1)
		if i >= 3 {
			return fmt.Errorf("range %d: %w", i, boom)
		}
		return out.Window(&schema.WindowRow{Key: fmt.Sprint(i)})
	})
	if err == nil || err.Error() != "range 3: boom" {
		t.Fatalf("err = %v, want range 3's", err)
	}
	if !reflect.DeepEqual(sink.keys, []string{"0", "1", "2"}) {
		t.Fatalf("rows before the error: %v", sink.keys)
	}
	if n := started.Load(); n > 3+2 {
		t.Fatalf("%d ranges started after the failing one was seen", n)
	}
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}
