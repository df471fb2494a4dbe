package aggregate

import (
	"slices"
	"strings"
)

// State is an in-memory partial aggregate. Keys are interned once, so the
// per-line cost is two map lookups and no allocation once a (key,
// timestamp) cell exists. Memory grows with distinct keys and distinct
// (key, timestamp) cells, never with the number of lines. A State is not
// safe for concurrent use: each worker fills its own and they are merged.
type State struct {
	keyIDs map[string]uint32
	keys   []string
	cellOf map[cell]uint32
	cells  []cell
	sums   []Counters
}

type cell struct {
	key uint32
	ts  int64
}

// NewState returns an empty State.
func NewState() *State {
	return &State{keyIDs: map[string]uint32{}, cellOf: map[cell]uint32{}}
}

// Add records one request for key. key is only read, never retained.
func (s *State) Add(key []byte, o *Observation) {
	id, ok := s.keyIDs[string(key)] // no allocation: the compiler elides the conversion
	if !ok {
		id = s.intern(string(key))
	}
	s.at(id, o.TimeMillis).observe(o)
}

func (s *State) intern(key string) uint32 {
	id := uint32(len(s.keys))
	s.keys = append(s.keys, key)
	s.keyIDs[key] = id
	return id
}

// at returns the counters of (key id, ts), creating them if needed.
func (s *State) at(id uint32, ts int64) *Counters {
	c := cell{id, ts}
	i, ok := s.cellOf[c]
	if !ok {
		i = uint32(len(s.cells))
		s.cellOf[c] = i
		s.cells = append(s.cells, c)
		s.sums = append(s.sums, Counters{})
	}
	return &s.sums[i]
}

// AddCounters merges pre-summed counters for (key, ts) into s; it is how
// partials read back from elsewhere join a State.
func (s *State) AddCounters(key string, ts int64, c *Counters) {
	id, ok := s.keyIDs[key]
	if !ok {
		id = s.intern(key)
	}
	s.at(id, ts).Add(c)
}

// Merge adds every cell of o into s. o is left unchanged.
func (s *State) Merge(o *State) {
	for i, c := range o.cells {
		s.AddCounters(o.keys[c.key], c.ts, &o.sums[i])
	}
}

// Keys reports the number of distinct keys.
func (s *State) Keys() int { return len(s.keys) }

// EveryKey reports whether pred holds for every key of s.
func (s *State) EveryKey(pred func(key string) bool) bool {
	for _, k := range s.keys {
		if !pred(k) {
			return false
		}
	}
	return true
}

// Cells reports the number of distinct (key, timestamp) cells.
func (s *State) Cells() int { return len(s.cells) }

// Each implements Source: keys in ascending order, points in time order.
func (s *State) Each(fn func(*Series) error) error {
	order := make([]uint32, len(s.cells))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		ca, cb := s.cells[a], s.cells[b]
		if ca.key != cb.key {
			return strings.Compare(s.keys[ca.key], s.keys[cb.key])
		}
		switch {
		case ca.ts < cb.ts:
			return -1
		case ca.ts > cb.ts:
			return 1
		}
		return 0
	})
	var series Series
	for start := 0; start < len(order); {
		key := s.cells[order[start]].key
		series.Key = s.keys[key]
		series.Points = series.Points[:0]
		end := start
		for ; end < len(order) && s.cells[order[end]].key == key; end++ {
			i := order[end]
			series.Points = append(series.Points, Point{TimeMillis: s.cells[i].ts, Counters: s.sums[i]})
		}
		if err := fn(&series); err != nil {
			return err
		}
		start = end
	}
	return nil
}
