package policy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/keyrate/keyrate/aggregate"
)

// ClassPartials is the partial aggregate of one request class, the type
// the pipeline produces: the requests that exactly the policy's request
// filters whose bits are set in Class count (bit i: Policy.Filters[i]).
// Class 0 holds the requests no filter counts. Every request is in one
// class, so the classes together hold every request once.
type ClassPartials = aggregate.ClassPartials

// Inputs are the partial aggregates a policy is evaluated over, one per
// request class seen (any order, each class once). A rule scoped by
// filter i reads the merge of the classes with bit i set, an unscoped
// rule and the keys table all classes.
type Inputs struct {
	Classes []ClassPartials
}

// classWalker reads every class's cursor in step, one key at a time:
// at each step the smallest key any class has, with that key's series
// in each class that has one.
type classWalker struct {
	classes []aggregate.Class
	readers []*seriesReader
	key     string
	present []int // the readers holding key's series, ascending
	done    bool

	// The key's merged series, built on demand.
	fullBuf  []aggregate.Point
	full     []aggregate.Point
	haveFull bool
	lists    [][]aggregate.Point
	tmp      [2][]aggregate.Point
}

// openClasses opens a walker over in's classes, sorted by class.
func openClasses(in Inputs, filters int) (*classWalker, error) {
	cs := slices.Clone(in.Classes)
	slices.SortFunc(cs, func(a, b ClassPartials) int { return cmp.Compare(a.Class, b.Class) })
	w := &classWalker{}
	for i, c := range cs {
		if i > 0 && c.Class == cs[i-1].Class {
			w.close()
			return nil, fmt.Errorf("policy: request class %d given twice", c.Class)
		}
		if c.Partials == nil {
			w.close()
			return nil, fmt.Errorf("policy: request class %d has no partial aggregate", c.Class)
		}
		r, err := openSeries(c.Partials)
		if err != nil {
			w.close()
			return nil, err
		}
		w.classes = append(w.classes, c.Class)
		w.readers = append(w.readers, r)
	}
	for _, r := range w.readers {
		if err := r.next(); err != nil && err != io.EOF {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

func (w *classWalker) close() {
	for _, r := range w.readers {
		r.c.Close()
	}
}

// peek returns the smallest key the classes have not yet handed out,
// and false at the end of every class.
func (w *classWalker) peek() (string, bool) {
	var key string
	found := false
	for _, r := range w.readers {
		if r.have && (!found || r.s.Key < key) {
			key, found = r.s.Key, true
		}
	}
	return key, found
}

// next advances to the next key: the readers that held the previous one
// move on, and present lists those that hold the new one. It returns
// false at the end.
func (w *classWalker) next() (bool, error) {
	for _, i := range w.present {
		if err := w.readers[i].next(); err != nil && err != io.EOF {
			return false, err
		}
	}
	w.present = w.present[:0]
	key, ok := w.peek()
	if !ok {
		w.done = true
		return false, nil
	}
	w.key = key
	for i, r := range w.readers {
		if r.have && r.s.Key == key {
			w.present = append(w.present, i)
		}
	}
	w.haveFull = false
	return true, nil
}

// all returns the current key's series over every class.
func (w *classWalker) all() []aggregate.Point {
	if !w.haveFull {
		w.full, w.fullBuf = w.merge(w.fullBuf, func(aggregate.Class) bool { return true })
		w.haveFull = true
	}
	return w.full
}

// merge returns the merge of the current key's series in the classes
// keep selects: one of them as it is, several added up into buf (which it
// also returns, grown).
func (w *classWalker) merge(buf []aggregate.Point, keep func(aggregate.Class) bool) ([]aggregate.Point, []aggregate.Point) {
	w.lists = w.lists[:0]
	for _, i := range w.present {
		if keep(w.classes[i]) {
			w.lists = append(w.lists, w.readers[i].s.Points)
		}
	}
	switch len(w.lists) {
	case 0:
		return nil, buf
	case 1:
		return w.lists[0], buf
	}
	acc := w.lists[0]
	last := len(w.lists) - 1
	for k, l := range w.lists[1:last] {
		w.tmp[k%2] = aggregate.MergePoints(w.tmp[k%2][:0], acc, l)
		acc = w.tmp[k%2]
	}
	buf = aggregate.MergePoints(buf[:0], acc, w.lists[last])
	return buf, buf
}

// DatesOf returns the UTC dates (midnights) on which in has requests,
// ascending: the checkpoint dates of an evaluation over in, when the
// caller does not know them otherwise. It reads every class once.
func DatesOf(ctx context.Context, in Inputs) ([]time.Time, error) {
	days, err := daysOf(ctx, in)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(days))
	for i, d := range days {
		out[i] = aggregate.Millis(d * dayMillis)
	}
	return out, nil
}

// daysOf is DatesOf in days since the epoch.
func daysOf(ctx context.Context, in Inputs) ([]int64, error) {
	var days []int64
	for _, c := range in.Classes {
		r, err := openSeries(c.Partials)
		if err != nil {
			return nil, err
		}
		for {
			if err := ctx.Err(); err != nil {
				r.c.Close()
				return nil, err
			}
			if err := r.next(); err != nil {
				r.c.Close()
				if err != io.EOF {
					return nil, err
				}
				break
			}
			last := int64(minInt64)
			for _, p := range r.s.Points {
				if d := floorDiv(p.TimeMillis, dayMillis); d != last {
					last = d
					if i, found := slices.BinarySearch(days, d); !found {
						days = slices.Insert(days, i, d)
					}
				}
			}
		}
	}
	return days, nil
}
