package aggregate

import (
	"container/heap"
	"io"
	"slices"
)

// Merge is the k-way merge of cursors: series of the same key are added
// point by point. Its output equals that of one State holding every
// input cell, whatever the inputs' number and split.
type Merge struct {
	h       cursorHeap
	inputs  []*mergeInput
	pending []*mergeInput // inputs whose current series was handed out
	lists   [][]Point     // the point lists being merged
	arenas  [2][]Point    // where merge rounds write, alternately
	err     error         // an input's error, returned from then on
}

// mergeInput is one cursor of a Merge and its current series, read into
// a buffer of its own.
type mergeInput struct {
	c      Cursor
	key    string
	points []Point
}

type cursorHeap []*mergeInput

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*mergeInput)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewMerge merges cursors; each must yield keys in ascending order. The
// Merge owns them: its Close closes them.
func NewMerge(cursors ...Cursor) *Merge {
	m := &Merge{}
	for _, c := range cursors {
		m.inputs = append(m.inputs, &mergeInput{c: c})
	}
	m.pending = append(m.pending, m.inputs...)
	return m
}

// Next implements Cursor.
func (m *Merge) Next(dst []Point) (string, []Point, error) {
	if len(m.inputs) == 1 {
		// Nothing to merge: the input appends to dst itself.
		return m.inputs[0].c.Next(dst)
	}
	if m.err != nil {
		return "", dst, m.err
	}
	// Advance the inputs whose series the previous call handed out.
	for _, in := range m.pending {
		var err error
		in.key, in.points, err = in.c.Next(in.points[:0])
		switch {
		case err == io.EOF:
		case err != nil:
			m.err = err
			return "", dst, err
		default:
			heap.Push(&m.h, in)
		}
	}
	m.pending = m.pending[:0]
	if len(m.h) == 0 {
		return "", dst, io.EOF
	}
	first := heap.Pop(&m.h).(*mergeInput)
	m.pending = append(m.pending, first)
	for len(m.h) > 0 && m.h[0].key == first.key {
		m.pending = append(m.pending, heap.Pop(&m.h).(*mergeInput))
	}
	if len(m.pending) == 1 {
		if len(dst) == 0 {
			// The Cursor contract lets the input's buffer go to the
			// caller whole, dst taking its place.
			points := first.points
			first.points = dst
			return first.key, points, nil
		}
		return first.key, append(dst, first.points...), nil
	}
	m.lists = m.lists[:0]
	for _, in := range m.pending {
		m.lists = append(m.lists, in.points)
	}
	return first.key, m.mergeLists(dst), nil
}

// Close implements Cursor: it closes every input.
func (m *Merge) Close() {
	for _, in := range m.inputs {
		in.c.Close()
	}
}

// mergeLists appends to dst the merge of m.lists (two or more sorted
// point lists), adding the counters of equal times. Lists merge in
// pairs, round by round, so each point is copied about log2(k) times for
// k lists; folding them into one accumulator copied the early lists'
// points k times, which a merge of dozens of spilled runs felt. Each
// round but the last writes into one of two arenas, sized up front so
// that no append moves the lists already in it; the last writes into
// dst.
func (m *Merge) mergeLists(dst []Point) []Point {
	total := 0
	for _, l := range m.lists {
		total += len(l)
	}
	for round := 0; len(m.lists) > 2; round++ {
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
	return mergePoints(slices.Grow(dst, total), m.lists[0], m.lists[1])
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

// MergePoints appends to dst the union of the sorted point lists a and
// b, adding the counters of equal times: how a key's series held apart
// (one per request class) are added up.
func MergePoints(dst, a, b []Point) []Point { return mergePoints(dst, a, b) }
