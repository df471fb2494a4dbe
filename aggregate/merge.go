package aggregate

import (
	"container/heap"
)

// Cursor is the pull form of a Source: Next returns each key's series in
// ascending key order, then nil. The returned Series is valid only until
// the next call. A State, a spilled run and a Merge are cursors.
type Cursor interface {
	Next() (*Series, error)
}

// Merge is the k-way merge of cursors: series of the same key are added
// point by point. Its output equals that of one State holding every
// input cell, whatever the inputs' number and split.
type Merge struct {
	h       cursorHeap
	pending []*mergeInput // inputs whose current series was handed out
	series  Series
	lists   [][]Point  // the point lists being merged
	arenas  [2][]Point // where merge rounds write, alternately
}

type mergeInput struct {
	c   Cursor
	cur *Series
}

type cursorHeap []*mergeInput

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return h[i].cur.Key < h[j].cur.Key }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*mergeInput)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewMerge merges cursors; each must yield keys in ascending order.
func NewMerge(cursors ...Cursor) *Merge {
	m := &Merge{}
	for _, c := range cursors {
		m.pending = append(m.pending, &mergeInput{c: c})
	}
	return m
}

// Next implements Cursor.
func (m *Merge) Next() (*Series, error) {
	// Advance the inputs consumed by the previous call only now: their
	// series may have been what the caller was reading.
	for _, in := range m.pending {
		s, err := in.c.Next()
		if err != nil {
			return nil, err
		}
		if s != nil {
			in.cur = s
			heap.Push(&m.h, in)
		}
	}
	m.pending = m.pending[:0]
	if len(m.h) == 0 {
		return nil, nil
	}
	first := heap.Pop(&m.h).(*mergeInput)
	m.pending = append(m.pending, first)
	for len(m.h) > 0 && m.h[0].cur.Key == first.cur.Key {
		m.pending = append(m.pending, heap.Pop(&m.h).(*mergeInput))
	}
	if len(m.pending) == 1 {
		return first.cur, nil
	}
	m.series.Key = first.cur.Key
	m.lists = m.lists[:0]
	total := 0
	for _, in := range m.pending {
		m.lists = append(m.lists, in.cur.Points)
		total += len(in.cur.Points)
	}
	m.series.Points = m.mergeLists(total)
	return &m.series, nil
}

// mergeLists merges m.lists (sorted point lists holding total points)
// into one, adding the counters of equal times. Lists merge in pairs,
// round by round, so each point is copied about log2(k) times for k
// lists; folding them into one accumulator copied the early lists' points
// k times, which a merge of dozens of spilled runs felt. Each round
// writes into one of two arenas, sized up front so that no append moves
// the lists already in it.
func (m *Merge) mergeLists(total int) []Point {
	for round := 0; len(m.lists) > 1; round++ {
		arena := &m.arenas[round%2]
		if cap(*arena) < total {
			*arena = make([]Point, 0, total)
		}
		*arena = (*arena)[:0]
		next := m.lists[:0]
		for i := 0; i < len(m.lists); i += 2 {
			start := len(*arena)
			if i+1 == len(m.lists) {
				// The odd list waits a round, copied: every list of
				// the next round must be in this round's arena, as
				// the round after it overwrites the other one.
				*arena = append(*arena, m.lists[i]...)
			} else {
				*arena = mergePoints(*arena, m.lists[i], m.lists[i+1])
			}
			next = append(next, (*arena)[start:])
		}
		m.lists = next
	}
	return m.lists[0]
}

// Each implements Source.
func (m *Merge) Each(fn func(*Series) error) error {
	for {
		s, err := m.Next()
		if s == nil || err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
}

// mergePoints appends to dst the union of sorted a and b, adding the
// counters of points with equal times.
func mergePoints(dst, a, b []Point) []Point {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].TimeMillis < b[j].TimeMillis:
			dst = append(dst, a[i])
			i++
		case a[i].TimeMillis > b[j].TimeMillis:
			dst = append(dst, b[j])
			j++
		default:
			p := a[i]
			p.Counters.Add(&b[j].Counters)
			dst = append(dst, p)
			i++
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}
