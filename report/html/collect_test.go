package html_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/keyrate/keyrate/report/html"
)

// TestCollector: streaming keys through a Collector keeps what sorting
// every key would: the top lists and the index's first keys, ties
// included.
func TestCollector(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ keys, topN, maxIndex int }{
		{0, 0, 0}, {5, 10, 100}, {500, 10, 100}, {500, 3, 7}, {2000, 25, 1}, {2000, 10, 3000},
	} {
		t.Run(fmt.Sprintf("%d keys top %d index %d", tc.keys, tc.topN, tc.maxIndex), func(t *testing.T) {
			var all []html.KeyRow
			for i := range tc.keys {
				// Few distinct values, so that ties are common.
				k := html.KeyRow{Key: fmt.Sprintf("k_%04d", rng.IntN(100000)), Plan: "p", Requests: int64(rng.IntN(5))}
				if rng.IntN(3) == 0 {
					k.Excess = int64(rng.IntN(4))
					k.Leaked = int64(rng.IntN(int(k.Excess) + 1))
					k.Caught = k.Excess - k.Leaked
				}
				k.FalseThrottles = int64(rng.IntN(2))
				k.Key += fmt.Sprint("_", i) // unique
				all = append(all, k)
			}
			c := html.NewCollector(tc.topN, tc.maxIndex)
			for _, k := range all {
				c.Add(k)
			}
			var r html.Report
			c.Fill(&r)

			topN, maxIndex := tc.topN, tc.maxIndex
			if topN == 0 {
				topN = html.DefaultTopN
			}
			if maxIndex == 0 {
				maxIndex = html.MaxIndexKeys
			}
			want := func(keep func(html.KeyRow) bool, order func(a, b html.KeyRow) int, n int) []html.KeyRow {
				var out []html.KeyRow
				for _, k := range all {
					if keep(k) {
						out = append(out, k)
					}
				}
				slices.SortFunc(out, order)
				return out[:min(n, len(out))]
			}
			for _, x := range []struct {
				name      string
				got, want []html.KeyRow
			}{
				{"top by excess", r.TopExcess, want(func(k html.KeyRow) bool { return k.Excess > 0 }, html.ExcessOrder, topN)},
				{"top by leaked", r.TopLeaked, want(func(k html.KeyRow) bool { return k.Leaked > 0 }, html.LeakedOrder, topN)},
				{"index", r.Index, want(func(html.KeyRow) bool { return true }, html.IndexOrder, maxIndex)},
			} {
				if !slices.Equal(x.got, x.want) {
					t.Errorf("%s: %d rows %v\nwant %d rows %v", x.name, len(x.got), x.got, len(x.want), x.want)
				}
			}
		})
	}
}

func BenchmarkCollector(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	keys := make([]html.KeyRow, 1_000_000)
	for i := range keys {
		keys[i] = html.KeyRow{Key: fmt.Sprintf("k_%016x", rng.Uint64()), Requests: int64(rng.IntN(5000))}
		if rng.IntN(20) == 0 {
			keys[i].Excess = int64(rng.IntN(500))
			keys[i].Leaked = int64(rng.IntN(int(keys[i].Excess) + 1))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c := html.NewCollector(0, 0)
		for _, k := range keys {
			c.Add(k)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(keys)), "ns/key")
}
