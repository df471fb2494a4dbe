package aggregate

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNegative reports a difference of partials in which a counter would
// go below zero: what is subtracted was never added (a reading of another
// file, or of more of it).
var ErrNegative = errors.New("partials difference below zero")

// Sub subtracts o from c.
func (c *Counters) Sub(o *Counters) {
	c.Requests -= o.Requests
	c.Status2xx -= o.Status2xx
	c.Status3xx -= o.Status3xx
	c.Status4xx -= o.Status4xx
	c.Status5xx -= o.Status5xx
	c.Status429 -= o.Status429
	c.Rejected -= o.Rejected
	c.BytesSent -= o.BytesSent
}

// IsZero reports whether every counter is 0.
func (c *Counters) IsZero() bool { return *c == Counters{} }

// negative reports whether a counter is below 0.
func (c *Counters) negative() bool {
	return c.Requests < 0 || c.Status2xx < 0 || c.Status3xx < 0 || c.Status4xx < 0 ||
		c.Status5xx < 0 || c.Status429 < 0 || c.Rejected < 0 || c.BytesSent < 0
}

// diff is the Cursor NewDiff returns.
type diff struct {
	plus, minus diffSide
	err         error
}

// diffSide is one cursor of a diff and its current series.
type diffSide struct {
	c      Cursor
	key    string
	points []Point
	loaded bool // key and points are the next series, not yet used
	done   bool
}

// load reads the side's next series unless it holds one.
func (s *diffSide) load() error {
	if s.loaded || s.done {
		return nil
	}
	var err error
	s.key, s.points, err = s.c.Next(s.points[:0])
	switch {
	case err == io.EOF:
		s.done = true
		return nil
	case err != nil:
		return err
	}
	s.loaded = true
	return nil
}

// NewDiff returns plus minus minus: for every (key, time), plus's counters
// less minus's, points that come to all zero dropped (and keys left
// without points). A counter that would go below zero, a point of minus
// that plus lacks included, stops the cursor with ErrNegative. It is how
// a dataset takes back what it counted of an input: the earlier reading
// of a file that has grown, an input read by mistake. The diff owns both
// cursors: its Close closes them.
func NewDiff(plus, minus Cursor) Cursor {
	return &diff{plus: diffSide{c: plus}, minus: diffSide{c: minus}}
}

// Next implements Cursor.
func (d *diff) Next(dst []Point) (string, []Point, error) {
	p, m := &d.plus, &d.minus
	for d.err == nil {
		if d.err = p.load(); d.err != nil {
			break
		}
		if d.err = m.load(); d.err != nil {
			break
		}
		switch {
		case !p.loaded && !m.loaded:
			return "", dst, io.EOF
		case !p.loaded || (m.loaded && m.key < p.key):
			// A key only minus has.
			m.loaded = false
			if _, err := subPoints(nil, nil, m.points); err != nil {
				d.err = err
			}
			continue
		}
		start := len(dst)
		var err error
		if m.loaded && m.key == p.key {
			dst, err = subPoints(dst, p.points, m.points)
			m.loaded = false
		} else {
			dst, _ = subPoints(dst, p.points, nil)
		}
		p.loaded = false
		if err != nil {
			d.err = err
			return "", dst[:start], err
		}
		if len(dst) > start {
			return p.key, dst, nil
		}
	}
	return "", dst, d.err
}

// subPoints appends a minus b to dst, dropping the points that come to
// zero.
func subPoints(dst, a, b []Point) ([]Point, error) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].TimeMillis < b[j].TimeMillis):
			if !a[i].IsZero() {
				dst = append(dst, a[i])
			}
			i++
		case i == len(a) || b[j].TimeMillis < a[i].TimeMillis:
			if !b[j].IsZero() {
				return dst, negativeAt(b[j].TimeMillis)
			}
			j++
		default:
			p := a[i]
			p.Counters.Sub(&b[j].Counters)
			if p.negative() {
				return dst, negativeAt(p.TimeMillis)
			}
			if !p.IsZero() {
				dst = append(dst, p)
			}
			i++
			j++
		}
	}
	return dst, nil
}

// negativeAt is ErrNegative at a time; it names no key, which may be a
// secret.
func negativeAt(ms int64) error {
	return fmt.Errorf("%w at %s", ErrNegative, Millis(ms).Format(time.RFC3339Nano))
}

// Close implements Cursor: it closes both cursors.
func (d *diff) Close() {
	d.plus.c.Close()
	d.minus.c.Close()
}
