package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keyrate/keyrate/aggregate"
)

// What crosses the shuffle is a partial aggregate cut by (request class,
// UTC day, API key): the group key says which, the value holds that
// key's points of that day, encoded as below. Cutting by day bounds one
// element (at most 86,400 points a day at second precision) however hot
// the key is, and lets the combiner pre-merge each day apart.

const dayMillis = 24 * 60 * 60 * 1000

// groupKey is the shuffle key of a class's key's day: the class and the
// day as fixed-width big-endian numbers, then the key's bytes.
func groupKey(class aggregate.Class, day int64, key string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(class))
	binary.BigEndian.PutUint64(b[8:], uint64(day))
	return string(b[:]) + key
}

func splitGroupKey(gk string) (aggregate.Class, int64, string, error) {
	if len(gk) < 16 {
		return 0, 0, "", fmt.Errorf("group key of %d bytes: want at least 16", len(gk))
	}
	return aggregate.Class(binary.BigEndian.Uint64([]byte(gk[:8]))), int64(binary.BigEndian.Uint64([]byte(gk[8:16]))), gk[16:], nil
}

// dayOf is the UTC day (days since the epoch) of ms.
func dayOf(ms int64) int64 {
	d := ms / dayMillis
	if ms < 0 && ms%dayMillis != 0 {
		d--
	}
	return d
}

// encodePoints appends ps (strictly increasing times) to buf: a count,
// then per point the time's delta from the previous one (the first's
// zig-zag, as times may be before 1970) and the eight counters, all as
// varints.
func encodePoints(buf []byte, ps []aggregate.Point) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(ps)))
	prev := int64(0)
	for i, p := range ps {
		if i == 0 {
			buf = binary.AppendVarint(buf, p.TimeMillis)
		} else {
			buf = binary.AppendUvarint(buf, uint64(p.TimeMillis-prev))
		}
		prev = p.TimeMillis
		c := &p.Counters
		for _, v := range [...]int64{c.Requests, c.Status2xx, c.Status3xx, c.Status4xx, c.Status5xx, c.Status429, c.Rejected, c.BytesSent} {
			buf = binary.AppendUvarint(buf, uint64(v))
		}
	}
	return buf
}

var errBadPoints = errors.New("corrupt encoded partial")

// decodePoints appends the points b holds to dst.
func decodePoints(dst []aggregate.Point, b []byte) ([]aggregate.Point, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return dst, errBadPoints
	}
	b = b[k:]
	var prev int64
	for i := range n {
		var p aggregate.Point
		if i == 0 {
			t, k := binary.Varint(b)
			if k <= 0 {
				return dst, errBadPoints
			}
			p.TimeMillis, b = t, b[k:]
		} else {
			d, k := binary.Uvarint(b)
			if k <= 0 || d == 0 {
				return dst, errBadPoints
			}
			p.TimeMillis, b = prev+int64(d), b[k:]
		}
		prev = p.TimeMillis
		c := &p.Counters
		for _, f := range [...]*int64{&c.Requests, &c.Status2xx, &c.Status3xx, &c.Status4xx, &c.Status5xx, &c.Status429, &c.Rejected, &c.BytesSent} {
			v, k := binary.Uvarint(b)
			if k <= 0 {
				return dst, errBadPoints
			}
			*f, b = int64(v), b[k:]
		}
		dst = append(dst, p)
	}
	if len(b) != 0 {
		return dst, errBadPoints
	}
	return dst, nil
}

// mergeEncoded is the addition of two encoded partials of one group key.
func mergeEncoded(a, b []byte) ([]byte, error) {
	pa, err := decodePoints(nil, a)
	if err != nil {
		return nil, err
	}
	pb, err := decodePoints(nil, b)
	if err != nil {
		return nil, err
	}
	return encodePoints(nil, aggregate.MergePoints(nil, pa, pb)), nil
}

// memPartials is one request class's combined partials, gathered on the
// launcher: keys sorted, each with its whole series.
type memPartials struct {
	keys   []string
	series [][]aggregate.Point
}

// Open implements aggregate.Partials.
func (m *memPartials) Open() (aggregate.Cursor, error) { return &memCursor{m: m}, nil }

type memCursor struct {
	m *memPartials
	i int
}

func (c *memCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	if c.i >= len(c.m.keys) {
		return "", dst, io.EOF
	}
	c.i++
	return c.m.keys[c.i-1], append(dst, c.m.series[c.i-1]...), nil
}

func (c *memCursor) Close() {}

// gatherer collects combined partials, in any order, into per-class
// memPartials.
type gatherer struct {
	keyMap  func(raw []byte) []byte
	classes map[aggregate.Class]map[string][]aggregate.Point
}

func newGatherer(keyMap func([]byte) []byte) *gatherer {
	return &gatherer{keyMap: keyMap, classes: map[aggregate.Class]map[string][]aggregate.Point{0: {}}}
}

// add adds one (class, day, key)'s encoded points.
func (g *gatherer) add(gk string, enc []byte) error {
	class, _, key, err := splitGroupKey(gk)
	if err != nil {
		return err
	}
	if g.keyMap != nil {
		key = string(g.keyMap([]byte(key)))
	}
	ps, err := decodePoints(nil, enc)
	if err != nil {
		return err
	}
	m := g.classes[class]
	if m == nil {
		m = map[string][]aggregate.Point{}
		g.classes[class] = m
	}
	old := m[key]
	switch {
	case len(old) == 0:
		m[key] = ps
	case len(ps) > 0 && old[len(old)-1].TimeMillis < ps[0].TimeMillis:
		m[key] = append(old, ps...) // a later day: the usual case
	default:
		m[key] = aggregate.MergePoints(nil, old, ps)
	}
	return nil
}

// classes returns what was gathered as a run's classes, sorted, class 0
// first.
func (g *gatherer) result() []aggregate.ClassPartials {
	var out []aggregate.ClassPartials
	for c, m := range g.classes {
		mp := &memPartials{}
		for k := range m {
			mp.keys = append(mp.keys, k)
		}
		slices.SortFunc(mp.keys, strings.Compare)
		for _, k := range mp.keys {
			mp.series = append(mp.series, m[k])
		}
		out = append(out, aggregate.ClassPartials{Class: c, Partials: mp})
	}
	aggregate.SortClasses(out)
	return out
}
