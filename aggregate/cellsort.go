package aggregate

import (
	"runtime"
	"slices"
	"sync"
)

// sortedCells returns the cell indexes ordered by key bytes, then time,
// and the key groups in that order: group g is key byKey[g], whose cells
// are order[ends[g-1]:ends[g]] (from 0 for g = 0). Keys are ranked once,
// so the cell sort compares integers only.
//
// It is a counting sort by key rank, which keeps each key's cells in
// insertion order, for time-ordered logs already time order: a pass
// counts each key's cells, a second places them, noting the keys whose
// times go backwards so that only those are sorted (a check afterwards
// would read every cell again in random order, mostly cache misses).
// Both passes stream the cells, and a run's evaluation waits for them,
// so a large State is cut into parts that count and place their cells
// on several cores, each into its own slots of every group.
func (s *State) sortedCells() (order, byKey, ends []uint32) {
	return s.sortedCellsIn(sortParts(s.nCells, s.keys.len()))
}

// sortedCellsIn is sortedCells cutting the cells into n parts.
func (s *State) sortedCellsIn(n int) (order, byKey, ends []uint32) {
	nKeys := s.keys.len()
	parts := make([]cellPart, n)
	for p := range parts {
		parts[p].lo = uint32(s.nCells * p / len(parts))
		parts[p].hi = uint32(s.nCells * (p + 1) / len(parts))
	}
	// Counting by key id needs no ranks: the keys are ranked meanwhile.
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { parts[p].count(s, nKeys) })
	}
	byKey = make([]uint32, nKeys)
	for i := range byKey {
		byKey[i] = uint32(i)
	}
	s.keys.sortIDs(byKey)
	wg.Wait()

	// Each part's counts become where its cells of each key go: after
	// the earlier parts' cells of that key.
	ends = make([]uint32, nKeys)
	var sum uint32
	for r, id := range byKey {
		for p := range parts {
			n := parts[p].at[id]
			parts[p].at[id] = sum
			sum += n
		}
		ends[r] = sum
	}
	order = make([]uint32, s.nCells)
	for p := range parts {
		wg.Go(func() { parts[p].place(s, order) })
	}
	wg.Wait()

	// A key's times go backwards within a part, or from one part to the
	// next that holds its cells.
	byTime := func(a, b uint32) int {
		ta, tb := s.cell(a).ts, s.cell(b).ts
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	}
	for r, id := range byKey {
		unsorted, seen, last := false, false, int64(0)
		for p := range parts {
			pt := &parts[p]
			switch pt.times[id] {
			case noCells:
				continue
			case backwards:
				unsorted = true
			}
			unsorted = unsorted || seen && pt.first[id] < last
			seen, last = true, pt.last[id]
		}
		if unsorted {
			var lo uint32
			if r > 0 {
				lo = ends[r-1]
			}
			slices.SortFunc(order[lo:ends[r]], byTime)
		}
	}
	return order, byKey, ends
}

// cellPart is the cells [lo, hi) of a State as sortedCells orders them,
// with, per key id: at, the count of the part's cells, then where its
// next one goes in order; first and last, the times of its first and
// last cell in the part; times, what they are.
type cellPart struct {
	lo, hi      uint32
	at          []uint32
	first, last []int64
	times       []partTimes
}

// partTimes is what a part's cells of a key are in time.
type partTimes uint8

const (
	noCells   partTimes = iota // the part has none
	ascending                  // in insertion order, times never go back
	backwards                  // times go back
)

// sortParts returns how many parts sortedCells cuts n cells of keys keys
// into: one per core, each of at least a few chunks of cells, and with
// several cells per key (a part's per-key arrays cost more than they save
// when most keys have a cell or two in each part).
func sortParts(n, keys int) int {
	const minCells = 1 << 16
	parts := min(runtime.GOMAXPROCS(0), 8, n/minCells, n/max(1, 8*keys))
	return max(1, parts)
}

func (pt *cellPart) count(s *State, nKeys int) {
	pt.at = make([]uint32, nKeys)
	for i := pt.lo; i < pt.hi; i++ {
		pt.at[s.cell(i).key]++
	}
}

// place writes the part's cell indexes into their slots of order.
func (pt *cellPart) place(s *State, order []uint32) {
	n := len(pt.at)
	pt.first, pt.last = make([]int64, n), make([]int64, n)
	pt.times = make([]partTimes, n)
	for i := pt.lo; i < pt.hi; i++ {
		c := s.cell(i)
		id := c.key
		switch {
		case pt.times[id] == noCells:
			pt.first[id], pt.times[id] = c.ts, ascending
		case c.ts < pt.last[id]:
			pt.times[id] = backwards
		}
		pt.last[id] = c.ts
		order[pt.at[id]] = i
		pt.at[id]++
	}
}
