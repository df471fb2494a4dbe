package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
)

// TestKeyMapReachesEveryState: with Config.KeyMap, the result (every
// class, spilled or not) is the unmapped result with its keys mapped,
// and no spilled run holds a raw key.
func TestKeyMapReachesEveryState(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	paths := writeInputs(t, rng, t.TempDir())
	var mu sync.Mutex
	raw := map[string]bool{}
	show := func(k []byte) []byte {
		mu.Lock()
		raw[string(k)] = true
		mu.Unlock()
		sum := sha256.Sum256(k)
		return []byte(hex.EncodeToString(sum[:8]))
	}
	cfg := baseConfig()
	cfg.Workers = 3
	cfg.Filters = []policy.RequestFilter{{Methods: []string{"POST"}}}
	plain, err := Run(context.Background(), paths, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// The unmapped result with its keys mapped, re-sorted by them.
	want := map[aggregate.Class][]point{}
	for _, c := range plain.Classes {
		pts := points(c.Partials)
		for i := range pts {
			pts[i].key = string(show([]byte(pts[i].key)))
		}
		slices.SortStableFunc(pts, func(a, b point) int { return strings.Compare(a.key, b.key) })
		want[c.Class] = pts
	}
	for _, memory := range []int64{0, 1} {
		cfg.KeyMap, cfg.MemoryBytes, cfg.TmpDir = show, memory, t.TempDir()
		res, err := Run(context.Background(), paths, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[aggregate.Class][]point{}
		for _, c := range res.Classes {
			got[c.Class] = points(c.Partials)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("memory %d: the mapped result differs from the mapped plain result", memory)
		}
		if memory > 0 {
			if res.Spills == 0 {
				t.Fatal("no spill under a 1-byte budget")
			}
			runs, _ := filepath.Glob(filepath.Join(cfg.TmpDir, "*", "run-*.krr"))
			for _, p := range runs {
				rr, err := openRuns([]string{p})
				if err != nil {
					t.Fatal(err)
				}
				var dst []aggregate.Point
				for {
					k, _, err := rr[0].Next(dst[:0])
					if err != nil {
						break
					}
					if raw[k] {
						t.Fatalf("spilled run %s holds the raw key %q", p, k)
					}
				}
				rr[0].Close()
			}
			if len(runs) == 0 {
				t.Error("no spilled run to check")
			}
		}
		res.Close()
		if left, _ := os.ReadDir(cfg.TmpDir); len(left) != 0 {
			t.Errorf("%d entries left in the tmp dir", len(left))
		}
	}
}
