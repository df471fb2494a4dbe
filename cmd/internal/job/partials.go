package job

import (
	"errors"
	"io"
	"os"

	"github.com/keyrate/keyrate/aggregate"
)

// storedFile is one class's partials file of one date, read through
// OpenParquet each time it is opened.
type storedFile struct {
	path string
}

func (s storedFile) Open() (aggregate.Cursor, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c, _, err := aggregate.OpenParquet(f, st.Size())
	if err != nil {
		f.Close()
		return nil, &partialsError{path: s.path, err: err}
	}
	return &fileCursor{Cursor: c, f: f}, nil
}

// partialsError names the stored file a read failed on.
type partialsError struct {
	path string
	err  error
}

func (e *partialsError) Error() string { return e.path + ": " + e.err.Error() }
func (e *partialsError) Unwrap() error { return e.err }

// fileCursor closes its file with the cursor.
type fileCursor struct {
	aggregate.Cursor
	f *os.File
}

func (c *fileCursor) Close() {
	c.Cursor.Close()
	c.f.Close()
}

// sum is the partials that add up several: each Open merges its parts
// afresh.
type sum []aggregate.Partials

func (s sum) Open() (aggregate.Cursor, error) {
	cs := make([]aggregate.Cursor, 0, len(s))
	for _, p := range s {
		c, err := p.Open()
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	return aggregate.NewMerge(cs...), nil
}

// difference is plus minus minus (aggregate.NewDiff).
type difference struct {
	plus, minus aggregate.Partials
}

func (d difference) Open() (aggregate.Cursor, error) {
	p, err := d.plus.Open()
	if err != nil {
		return nil, err
	}
	if d.minus == nil {
		return p, nil
	}
	m, err := d.minus.Open()
	if err != nil {
		p.Close()
		return nil, err
	}
	return aggregate.NewDiff(p, m), nil
}

// onDate is the part of a partial aggregate on one UTC date
// [from, to) (epoch ms).
type onDate struct {
	p        aggregate.Partials
	from, to int64
}

func (o onDate) Open() (aggregate.Cursor, error) {
	c, err := o.p.Open()
	if err != nil {
		return nil, err
	}
	return &dateCursor{c: c, from: o.from, to: o.to}, nil
}

type dateCursor struct {
	c        aggregate.Cursor
	from, to int64
	buf      []aggregate.Point
}

// Next skips keys without a point on the date.
func (d *dateCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	for {
		key, pts, err := d.c.Next(d.buf[:0])
		d.buf = pts
		if err != nil {
			return "", dst, err
		}
		start := len(dst)
		for _, p := range pts {
			if p.TimeMillis >= d.from && p.TimeMillis < d.to {
				dst = append(dst, p)
			}
		}
		if len(dst) > start {
			return key, dst, nil
		}
	}
}

func (d *dateCursor) Close() { d.c.Close() }

// peeked is a cursor whose first key has been read, to know whether it
// is empty before writing a file of it.
type peeked struct {
	c     aggregate.Cursor
	key   string
	pts   []aggregate.Point
	err   error
	ahead bool
}

func peek(c aggregate.Cursor) (*peeked, bool, error) {
	p := &peeked{c: c}
	p.key, p.pts, p.err = c.Next(nil)
	if errors.Is(p.err, io.EOF) {
		return p, true, nil
	}
	if p.err != nil {
		return p, false, p.err
	}
	p.ahead = true
	return p, false, nil
}

func (p *peeked) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	if p.ahead {
		p.ahead = false
		return p.key, append(dst, p.pts...), nil
	}
	return p.c.Next(dst)
}

func (p *peeked) Close() { p.c.Close() }
