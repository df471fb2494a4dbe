package ingest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// sliceCursor yields fixed series, reusing one Series and one point
// buffer as real cursors do, then err (or the end).
type sliceCursor struct {
	series []aggregate.Series
	err    error
	i      int
	out    aggregate.Series
}

func (c *sliceCursor) Next() (*aggregate.Series, error) {
	if c.i == len(c.series) {
		return nil, c.err
	}
	s := c.series[c.i]
	c.i++
	c.out.Key = s.Key
	c.out.Points = append(c.out.Points[:0], s.Points...)
	return &c.out, nil
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

func drain(t *testing.T, c aggregate.Cursor) ([]aggregate.Series, error) {
	t.Helper()
	var got []aggregate.Series
	for {
		s, err := c.Next()
		if err != nil || s == nil {
			return got, err
		}
		// A consumer may append to what it was handed; that must not
		// reach the next series.
		s.Points = append(s.Points, aggregate.Point{TimeMillis: -1})
		got = append(got, aggregate.Series{Key: s.Key, Points: append([]aggregate.Point(nil), s.Points[:len(s.Points)-1]...)})
	}
}

func TestPrefetchYieldsTheInnerCursorsSeries(t *testing.T) {
	want := testSeries(300)
	p := prefetch(func() aggregate.Cursor { return &sliceCursor{series: want} })
	defer p.close()
	got, err := drain(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched series differ from the inner cursor's (%d vs %d series)", len(got), len(want))
	}
	if s, err := p.Next(); s != nil || err != nil {
		t.Fatalf("after the end: %v, %v", s, err)
	}
}

func TestPrefetchReportsTheErrorAfterTheSeriesBeforeIt(t *testing.T) {
	boom := errors.New("run truncated")
	want := testSeries(40)
	p := prefetch(func() aggregate.Cursor { return &sliceCursor{series: want, err: boom} })
	defer p.close()
	got, err := drain(t, p)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d series before the error, want all %d", len(got), len(want))
	}
}

func TestPrefetchCloseStopsAnUnreadProducer(t *testing.T) {
	p := prefetch(func() aggregate.Cursor { return &sliceCursor{series: testSeries(2000)} })
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.close(); p.close(); close(done) }()
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
	if err := st.Each(func(s *aggregate.Series) error {
		want = append(want, aggregate.Series{Key: s.Key, Points: append([]aggregate.Point(nil), s.Points...)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p := prefetch(st.Cursor)
	defer p.close()
	got, err := drain(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 300 || !reflect.DeepEqual(got, want) {
		t.Fatalf("prefetched %d series, the State has %d; contents equal: %v", len(got), len(want), reflect.DeepEqual(got, want))
	}
}
