package pipeline

import (
	"context"
	"reflect"
	"testing"

	"github.com/keyrate/keyrate/aggregate/policy"
)

// The request classes handed to the evaluator add up to every request,
// and the classes of each filter to that filter's aggregate, also where
// filters overlap.
func TestClassesAddUp(t *testing.T) {
	cfg := Config{
		Format: "auto", KeySources: []string{"query:api_key"}, ThrottleStatus: []int{429},
		MaxLineBytes: 300, SkipCorrupt: true, Workers: 2,
		Filters: []policy.RequestFilter{{Methods: []string{"POST"}}, {ExcludeStatus: []int{404}}},
	}
	res, err := Run(context.Background(), mixedInputs(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	whole := dumpResult(t, res)
	in := res.inputs().classes()
	if len(in.Classes) != 3 {
		t.Fatalf("%d classes, want 3", len(in.Classes))
	}
	type cell struct{ requests, rejected int64 }
	sum := func(keep func(uint64) bool) map[[2]any]cell {
		out := map[[2]any]cell{}
		for _, c := range in.Classes {
			if !keep(c.Class) {
				continue
			}
			for _, p := range points(c.Partials) {
				k := [2]any{p.key, p.t}
				v := out[k]
				v.requests += p.requests
				v.rejected += p.rejected
				out[k] = v
				if p.requests == 0 && p.rejected == 0 && c.Class == 0 {
					t.Fatalf("class 0 holds an empty point %+v", p)
				}
			}
		}
		for k, v := range out {
			if v == (cell{}) {
				delete(out, k)
			}
		}
		return out
	}
	asMap := func(ps []point) map[[2]any]cell {
		out := map[[2]any]cell{}
		for _, p := range ps {
			out[[2]any{p.key, p.t}] = cell{p.requests, p.rejected}
		}
		return out
	}
	if got := sum(func(uint64) bool { return true }); !reflect.DeepEqual(got, asMap(whole.all)) {
		t.Errorf("the classes do not add up to every request (%d vs %d cells)", len(got), len(whole.all))
	}
	for i := range cfg.Filters {
		bit := uint64(1) << i
		if got := sum(func(c uint64) bool { return c&bit != 0 }); !reflect.DeepEqual(got, asMap(whole.filtered[i])) {
			t.Errorf("filter %d: its classes differ from its aggregate", i)
		}
	}
}
