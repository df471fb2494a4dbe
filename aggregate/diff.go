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
	plus, minus      Cursor
	pKey, mKey       string
	pPoints, mPoints []Point
	pLoaded, mLoaded bool // the current series of each is read
	pDone, mDone     bool
	err              error
}

// NewDiff returns plus minus minus: for every (key, time), plus's counters
// less minus's, points that come to all zero dropped (and keys left
// without points). A counter that would go below zero, a point of minus
// that plus lacks included, stops the cursor with ErrNegative. It is how
// a dataset takes back what it counted of an input: the earlier reading
// of a file that has grown, an input read by mistake. The diff owns both
// cursors: its Close closes them.
func NewDiff(plus, minus Cursor) Cursor { return &diff{plus: plus, minus: minus} }

// load reads the next series of plus and of minus where the last was
// used.
func (d *diff) load() error {
	var err error
	if !d.pLoaded && !d.pDone {
		d.pKey, d.pPoints, err = d.plus.Next(d.pPoints[:0])
		if err == io.EOF {
			d.pDone, err = true, nil
		}
		if err != nil {
			return err
		}
		d.pLoaded = !d.pDone
	}
	if !d.mLoaded && !d.mDone {
		d.mKey, d.mPoints, err = d.minus.Next(d.mPoints[:0])
		if err == io.EOF {
			d.mDone, err = true, nil
		}
		if err != nil {
			return err
		}
		d.mLoaded = !d.mDone
	}
	return nil
}

// Next implements Cursor.
func (d *diff) Next(dst []Point) (string, []Point, error) {
	for d.err == nil {
		if d.err = d.load(); d.err != nil {
			break
		}
		switch {
		case !d.pLoaded && !d.mLoaded:
			return "", dst, io.EOF
		case !d.pLoaded || (d.mLoaded && d.mKey < d.pKey):
			// A key only minus has.
			d.mLoaded = false
			for i := range d.mPoints {
				if !d.mPoints[i].IsZero() {
					d.err = negativeAt(d.mPoints[i].TimeMillis)
					break
				}
			}
			continue
		}
		key := d.pKey
		start := len(dst)
		var err error
		if d.mLoaded && d.mKey == key {
			dst, err = subPoints(dst, d.pPoints, d.mPoints)
			d.mLoaded = false
		} else {
			for i := range d.pPoints {
				if !d.pPoints[i].IsZero() {
					dst = append(dst, d.pPoints[i])
				}
			}
		}
		d.pLoaded = false
		if err != nil {
			d.err = err
			return "", dst[:start], err
		}
		if len(dst) > start {
			return key, dst, nil
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
	d.plus.Close()
	d.minus.Close()
}
