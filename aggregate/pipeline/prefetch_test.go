package pipeline

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// sliceCursor yields fixed series, then err (or the end).
type sliceCursor struct {
	series []aggregate.Series
	err    error
	i      int
	closed bool
}

func (c *sliceCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	if c.i == len(c.series) {
		if c.err != nil {
			return "", dst, c.err
		}
		return "", dst, io.EOF
	}
	s := c.series[c.i]
	c.i++
	return s.Key, append(dst, s.Points...), nil
}

func (c *sliceCursor) Close() { c.closed = true }

// cursorOf opens c, as prefetch wants it.
func cursorOf(c aggregate.Cursor) func() (aggregate.Cursor, error) {
	return func() (aggregate.Cursor, error) { return c, nil }
}

// testSeries makes n series whose point counts vary from 1 to well past
// a batch, so batches end both between and inside long series.
func testSeries(n int) []aggregate.Series {
	var out []aggregate.Series
	for i := range n {
		s := aggregate.Series{Key: fmt.Sprintf("k%05d", i)}
		points := 1 + (i*37)%50
		if i%17 == 0 {
			points = prefetchPoints + 3
		}
		for j := range points {
			s.Points = append(s.Points, aggregate.Point{TimeMillis: int64(j * 1000), Counters: aggregate.Counters{Requests: int64(i + j + 1)}})
		}
		out = append(out, s)
	}
	return out
}

// drain reads c to the end (nil error) or to its error. Each series is
// appended to a buffer holding a marker point, which must stay in front.
func drain(t *testing.T, c aggregate.Cursor) ([]aggregate.Series, error) {
	t.Helper()
	var got []aggregate.Series
	marker := aggregate.Point{TimeMillis: -1}
	for {
		key, points, err := c.Next([]aggregate.Point{marker})
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		if len(points) == 0 || points[0] != marker {
			t.Fatalf("series %q not appended to the buffer given", key)
		}
		got = append(got, aggregate.Series{Key: key, Points: points[1:]})
	}
}

func TestPrefetchYieldsTheInnerCursorsSeries(t *testing.T) {
	want := testSeries(300)
	inner := &sliceCursor{series: want}
	p := prefetch(cursorOf(inner))
	got, err := drain(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched series differ from the inner cursor's (%d vs %d series)", len(got), len(want))
	}
	if key, _, err := p.Next(nil); err != io.EOF {
		t.Fatalf("after the end: %q, %v", key, err)
	}
	p.Close()
	if !inner.closed {
		t.Error("Close left the inner cursor open")
	}
}

func TestPrefetchReportsTheErrorAfterTheSeriesBeforeIt(t *testing.T) {
	boom := errors.New("run truncated")
	want := testSeries(40)
	p := prefetch(cursorOf(&sliceCursor{series: want, err: boom}))
	defer p.Close()
	got, err := drain(t, p)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d series before the error, want all %d", len(got), len(want))
	}
}

func TestPrefetchCloseStopsAnUnreadProducer(t *testing.T) {
	p := prefetch(cursorOf(&sliceCursor{series: testSeries(2000)}))
	if _, _, err := p.Next(nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Close(); p.Close(); close(done) }()
	<-done // a producer blocked on a full channel would hang close
}

// A State's cursor appends its points straight into the batches; what
// comes out must be what the State itself yields.
func TestPrefetchOfAStateMatchesTheState(t *testing.T) {
	st := aggregate.NewState()
	for i := range 20_000 {
		st.Add(fmt.Appendf(nil, "k%03d", (i*7919)%300), &aggregate.Observation{TimeMillis: int64(i%997) * 1000, Status: 200 + i%3*100, Bytes: int64(i)})
	}
	var want []aggregate.Series
	if err := each(st, func(s *aggregate.Series) error {
		want = append(want, aggregate.Series{Key: s.Key, Points: append([]aggregate.Point(nil), s.Points...)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p := prefetch(st.Open)
	defer p.Close()
	got, err := drain(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 300 || !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched %d series, the State has %d; contents equal: %v", len(got), len(want), reflect.DeepEqual(got, want))
	}
}

// A consumer that passes each series' buffer back gets every series
// right while the buffers circulate between it and the producer.
func TestPrefetchHandsBuffersOver(t *testing.T) {
	want := testSeries(5000)
	p := prefetch(cursorOf(&sliceCursor{series: want}))
	defer p.Close()
	var got []aggregate.Series
	var buf []aggregate.Point
	for {
		key, points, err := p.Next(buf[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, aggregate.Series{Key: key, Points: slices.Clone(points)})
		buf = points
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched series differ from the inner cursor's (%d vs %d series)", len(got), len(want))
	}
}
