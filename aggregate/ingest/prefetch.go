package ingest

import (
	"sync"

	"github.com/keyrate/keyrate/aggregate"
)

// prefetchPoints is roughly how many points one prefetched batch holds
// (72 bytes each): big enough that handing a batch over costs little per
// series, small enough that a merge over dozens of spilled runs, each with
// prefetchDepth batches in flight, stays a few MB.
const (
	prefetchPoints = 1024
	prefetchDepth  = 2
)

// prefetchCursor reads a cursor ahead on its own goroutine. Reading a
// State back is mostly cache misses (its cells are scattered by key) and
// reading a spilled run is decompression; a merge of several inputs and
// the evaluation that consumes it would otherwise do all of that one
// after the other on one core. The series are copied into batches, so
// the inner cursor may reuse its buffers.
type prefetchCursor struct {
	batches chan *seriesBatch // filled batches, closed by the producer
	free    chan *seriesBatch // spent batches, for reuse
	stop    chan struct{}     // closed by close: the consumer is gone
	exited  sync.WaitGroup
	once    sync.Once

	cur    *seriesBatch
	next   int // index in cur of the series Next returns next
	series aggregate.Series
}

// seriesBatch is consecutive series of a cursor: series i is keys[i]
// with points[ends[i-1]:ends[i]]. err is the inner cursor's error,
// reported after the batch's series.
type seriesBatch struct {
	keys   []string
	ends   []int
	points []aggregate.Point
	err    error
}

// prefetch starts reading ahead the cursor that open returns; open runs
// on the new goroutine too, so that opening (sorting a State's cells)
// overlaps as well. The caller must call close when done with it, also
// after an error, before releasing what the cursor reads from.
func prefetch(open func() aggregate.Cursor) *prefetchCursor {
	p := &prefetchCursor{
		batches: make(chan *seriesBatch, prefetchDepth),
		free:    make(chan *seriesBatch, prefetchDepth+2),
		stop:    make(chan struct{}),
	}
	p.exited.Add(1)
	go p.produce(open)
	return p
}

func (p *prefetchCursor) produce(open func() aggregate.Cursor) {
	defer p.exited.Done()
	defer close(p.batches)
	c := open()
	app, _ := c.(aggregate.PointAppender) // then points are copied once
	for {
		var b *seriesBatch
		select {
		case b = <-p.free:
			b.keys, b.ends, b.points = b.keys[:0], b.ends[:0], b.points[:0]
		default:
			b = &seriesBatch{}
		}
		done := false
		for len(b.points) < prefetchPoints {
			if app != nil {
				key, points, more := app.AppendNext(b.points)
				if !more {
					done = true
					break
				}
				b.keys, b.points = append(b.keys, key), points
				b.ends = append(b.ends, len(b.points))
				continue
			}
			s, err := c.Next()
			if err != nil {
				b.err, done = err, true
				break
			}
			if s == nil {
				done = true
				break
			}
			b.keys = append(b.keys, s.Key)
			b.points = append(b.points, s.Points...)
			b.ends = append(b.ends, len(b.points))
		}
		if len(b.keys) > 0 || b.err != nil {
			select {
			case p.batches <- b:
			case <-p.stop:
				return
			}
		}
		if done {
			return
		}
	}
}

// Next implements aggregate.Cursor.
func (p *prefetchCursor) Next() (*aggregate.Series, error) {
	for p.cur == nil || p.next == len(p.cur.keys) {
		if p.cur != nil {
			if err := p.cur.err; err != nil {
				return nil, err
			}
			select {
			case p.free <- p.cur:
			default:
			}
			p.cur = nil
		}
		b, ok := <-p.batches
		if !ok {
			return nil, nil
		}
		p.cur, p.next = b, 0
	}
	b, i := p.cur, p.next
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	p.series.Key = b.keys[i]
	// Capped, so a consumer that appends cannot overwrite the next series.
	p.series.Points = b.points[start:b.ends[i]:b.ends[i]]
	p.next++
	return &p.series, nil
}

// close stops the producer and waits for it to exit.
func (p *prefetchCursor) close() {
	p.once.Do(func() { close(p.stop) })
	p.exited.Wait()
}
