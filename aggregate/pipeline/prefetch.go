package pipeline

import (
	"io"
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
// after the other on one core. The inner cursor appends its series
// straight into batches, which are handed over whole.
type prefetchCursor struct {
	batches chan *seriesBatch // filled batches, closed by the producer
	free    chan *seriesBatch // spent batches, for reuse
	stop    chan struct{}     // closed by Close: the consumer is gone
	exited  sync.WaitGroup
	once    sync.Once

	cur  *seriesBatch
	next int // index in cur of the series Next returns next
}

// seriesBatch is consecutive series of a cursor: series i is keys[i]
// with points[ends[i-1]:ends[i]]. err is the inner cursor's error (or
// io.EOF), reported after the batch's series.
type seriesBatch struct {
	keys   []string
	ends   []int
	points []aggregate.Point
	err    error
}

// prefetch starts reading ahead the cursor that open returns; open runs
// on the new goroutine too, so that opening (sorting a State's cells)
// overlaps as well. The producer owns the inner cursor and closes it
// when it stops. The caller must Close the prefetchCursor when done with
// it, also after an error.
func prefetch(open func() (aggregate.Cursor, error)) *prefetchCursor {
	p := &prefetchCursor{
		batches: make(chan *seriesBatch, prefetchDepth),
		free:    make(chan *seriesBatch, prefetchDepth+2),
		stop:    make(chan struct{}),
	}
	p.exited.Add(1)
	go p.produce(open)
	return p
}

func (p *prefetchCursor) produce(open func() (aggregate.Cursor, error)) {
	defer p.exited.Done()
	defer close(p.batches)
	c, err := open()
	if err != nil {
		p.send(&seriesBatch{err: err})
		return
	}
	defer c.Close()
	for {
		var b *seriesBatch
		select {
		case b = <-p.free:
			b.keys, b.ends, b.points = b.keys[:0], b.ends[:0], b.points[:0]
		default:
			b = &seriesBatch{}
		}
		for len(b.points) < prefetchPoints {
			key, points, err := c.Next(b.points)
			if err != nil {
				b.err = err
				break
			}
			b.keys, b.points = append(b.keys, key), points
			b.ends = append(b.ends, len(b.points))
		}
		if !p.send(b) || b.err != nil {
			return
		}
	}
}

// send hands b to the consumer, unless it has gone.
func (p *prefetchCursor) send(b *seriesBatch) bool {
	select {
	case p.batches <- b:
		return true
	case <-p.stop:
		return false
	}
}

// Next implements aggregate.Cursor.
func (p *prefetchCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	for p.cur == nil || p.next == len(p.cur.keys) {
		if p.cur != nil {
			if err := p.cur.err; err != nil {
				return "", dst, err
			}
			select {
			case p.free <- p.cur:
			default:
			}
			p.cur = nil
		}
		b, ok := <-p.batches
		if !ok {
			return "", dst, io.EOF // stopped by Close
		}
		p.cur, p.next = b, 0
	}
	b, i := p.cur, p.next
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	p.next++
	return b.keys[i], append(dst, b.points[start:b.ends[i]]...), nil
}

// Close implements aggregate.Cursor: it stops the producer and waits for
// it to exit, closing the inner cursor.
func (p *prefetchCursor) Close() {
	p.once.Do(func() { close(p.stop) })
	p.exited.Wait()
}
