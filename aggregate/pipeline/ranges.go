package pipeline

import (
	"sync"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
)

// ranges splits the run's classes into at most n consecutive key ranges
// that can be read concurrently, each as the classes of its keys, in key
// order; the ranges hold about equal numbers of cells. It returns nil
// when the classes cannot be split: something was spilled to disk (a
// run is read front to back), or there is nothing to split. The Result
// must not be read otherwise while the ranges are in use.
func (r *Result) ranges(n int) [][]aggregate.ClassPartials {
	if n < 2 {
		return nil
	}
	sources := make([]*mergedSource, len(r.Classes))
	for i, c := range r.Classes {
		m, ok := c.Partials.(*mergedSource)
		if !ok || len(m.runs) > 0 {
			return nil
		}
		sources[i] = m
	}
	// Sort every State once, in parallel; the ranges share the result.
	views := make([][]*aggregate.SortedState, len(sources))
	bi, bj := -1, -1 // the biggest State
	var wg sync.WaitGroup
	for i, m := range sources {
		views[i] = make([]*aggregate.SortedState, len(m.states))
		for j, st := range m.states {
			wg.Go(func() { views[i][j] = st.Sorted() })
			if bi < 0 || st.Cells() > sources[bi].states[bj].Cells() {
				bi, bj = i, j
			}
		}
	}
	wg.Wait()
	if bi < 0 {
		return nil
	}
	// Cut where the biggest State has its quantiles: the workers' States
	// hold similar key mixes.
	splits := views[bi][bj].Splits(n)
	if len(splits) == 0 {
		return nil
	}
	out := make([][]aggregate.ClassPartials, len(splits)+1)
	for k := range out {
		var lo, hi []byte
		if k > 0 {
			lo = splits[k-1]
		}
		if k < len(splits) {
			hi = splits[k]
		}
		for i, c := range r.Classes {
			out[k] = append(out[k], aggregate.ClassPartials{Class: c.Class, Partials: rangeSource{views[i], lo, hi}})
		}
	}
	return out
}

// rangeSource is the merge of sorted States restricted to the keys k
// with lo <= k < hi (nil hi: no bound).
type rangeSource struct {
	views  []*aggregate.SortedState
	lo, hi []byte
}

// Open implements aggregate.Partials.
func (s rangeSource) Open() (aggregate.Cursor, error) {
	cursors := make([]aggregate.Cursor, len(s.views))
	for i, v := range s.views {
		cursors[i] = v.Cursor(s.lo, s.hi)
	}
	return aggregate.NewMerge(cursors...), nil
}

// inRanges runs eval over each of ranges, at most parallel at once, each
// into a buffer of its rows, and replays the buffers into sink in range
// order: sink gets exactly the rows of one evaluation over all keys, in
// the same order, while the evaluations use several cores. A range's
// buffer is freed once replayed and a new range starts only then, so at
// most parallel ranges' rows are held at once. On an error, the ranges
// already started finish and the first error in range order is returned.
func inRanges(ranges []policy.Inputs, parallel int, sink policy.Sink,
	eval func(i int, in policy.Inputs, out policy.Sink) error) error {
	type done struct {
		buf *policy.RowBuffer
		err error
	}
	results := make([]chan done, len(ranges))
	for i := range results {
		results[i] = make(chan done, 1)
	}
	slots := make(chan struct{}, max(1, parallel))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, in := range ranges {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			wg.Go(func() {
				buf := &policy.RowBuffer{}
				err := eval(i, in, buf)
				results[i] <- done{buf, err}
			})
		}
	})
	var err error
	for i := range ranges {
		d := <-results[i]
		if err = d.err; err == nil {
			err = d.buf.Replay(sink)
		}
		if err != nil {
			break
		}
		<-slots
	}
	close(stop)
	wg.Wait()
	return err
}
