package aggregate

import (
	"slices"
	"strings"
)

// OrderedBy returns a Source over s that yields keys in ascending order of
// show(key), ties broken by the key itself, instead of the keys' own order.
// Reports that write a transformed key (a digest under --key-display) use
// it so that the written column is sorted, as the files declare.
func (s *State) OrderedBy(show func(key string) string) Source {
	return orderedState{s, show}
}

type orderedState struct {
	s    *State
	show func(string) string
}

func (o orderedState) Each(fn func(*Series) error) error {
	s := o.s
	shown := make([]string, len(s.keys))
	ids := make([]uint32, len(s.keys))
	for i, k := range s.keys {
		shown[i] = o.show(k)
		ids[i] = uint32(i)
	}
	slices.SortFunc(ids, func(a, b uint32) int {
		if c := strings.Compare(shown[a], shown[b]); c != 0 {
			return c
		}
		return strings.Compare(s.keys[a], s.keys[b])
	})
	rank := make([]uint32, len(s.keys))
	for r, id := range ids {
		rank[id] = uint32(r)
	}
	order := make([]uint32, len(s.cells))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		ca, cb := s.cells[a], s.cells[b]
		if ca.key != cb.key {
			return int(rank[ca.key]) - int(rank[cb.key])
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
