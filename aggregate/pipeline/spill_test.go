package pipeline

import (
	"errors"
	"os"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// TestSpillAfterRemoveAllLeavesNothing: a stopped run removes its spill
// directory without waiting for workers blocked on a pipe, so a worker
// may spill afterwards. It must fail, not create the directory again: the
// run would leave a spilled run in --tmp-dir.
func TestSpillAfterRemoveAllLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	sp := &spiller{dir: dir}
	state := func() *aggregate.State {
		st := aggregate.NewState()
		st.Add([]byte("k"), &aggregate.Observation{TimeMillis: 1000, Status: 200})
		return st
	}
	if err := sp.spill(state(), 0); err != nil {
		t.Fatal(err)
	}
	if sp.bytes == 0 || len(sp.runs[0]) != 1 {
		t.Fatalf("first spill: %d bytes, runs %v", sp.bytes, sp.runs)
	}
	if err := sp.removeAll(); err != nil {
		t.Fatal(err)
	}
	if err := sp.spill(state(), 0); !errors.Is(err, errSpillRemoved) {
		t.Errorf("spill after removeAll: %v, want errSpillRemoved", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the tmp dir: %v", left)
	}

	// A spiller removed before it ever spilled refuses too.
	sp = &spiller{dir: dir}
	sp.removeAll()
	if err := sp.spill(state(), 0); !errors.Is(err, errSpillRemoved) {
		t.Errorf("spill after removeAll of an unused spiller: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in the tmp dir: %v", left)
	}
}
