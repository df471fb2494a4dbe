package html

import "slices"

// Collector ranks keys as the caller streams every key's totals once, in
// any order, keeping only what the page shows: the top lists and the
// MaxIndexKeys keys the index holds. Its memory is bounded by those, not
// by the number of keys.
type Collector struct {
	excess, leaked, index bounded
}

// NewCollector returns a Collector keeping topN keys per top list (0 means
// DefaultTopN) and at most maxIndex keys for the index (0 means
// MaxIndexKeys; more than MaxIndexKeys is pointless, Write keeps no more).
func NewCollector(topN, maxIndex int) *Collector {
	if topN <= 0 {
		topN = DefaultTopN
	}
	if maxIndex <= 0 {
		maxIndex = MaxIndexKeys
	}
	return &Collector{
		excess: bounded{n: topN, order: ExcessOrder},
		leaked: bounded{n: topN, order: LeakedOrder},
		index:  bounded{n: maxIndex, order: IndexOrder},
	}
}

// Add offers one key's totals. A key with no excess is in no top list.
func (c *Collector) Add(k KeyRow) {
	if k.Excess > 0 {
		c.excess.add(k)
	}
	if k.Leaked > 0 {
		c.leaked.add(k)
	}
	c.index.add(k)
}

// Fill sets r's TopExcess, TopLeaked (ranked) and Index (in IndexOrder).
func (c *Collector) Fill(r *Report) {
	r.TopExcess = c.excess.sorted()
	r.TopLeaked = c.leaked.sorted()
	r.Index = c.index.sorted()
}

// bounded keeps the n rows that come first in order. It is a heap whose
// root is the row that comes last, the one a better row replaces.
type bounded struct {
	n     int
	order func(a, b KeyRow) int
	h     []KeyRow
}

func (b *bounded) add(k KeyRow) {
	if len(b.h) < b.n {
		b.h = append(b.h, k)
		b.up(len(b.h) - 1)
		return
	}
	if b.n > 0 && b.order(k, b.h[0]) < 0 {
		b.h[0] = k
		b.down(0)
	}
}

// after reports whether row i comes after row j: the heap's order.
func (b *bounded) after(i, j int) bool { return b.order(b.h[i], b.h[j]) > 0 }

func (b *bounded) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !b.after(i, p) {
			return
		}
		b.h[i], b.h[p] = b.h[p], b.h[i]
		i = p
	}
}

func (b *bounded) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(b.h) {
			return
		}
		if r := c + 1; r < len(b.h) && b.after(r, c) {
			c = r
		}
		if !b.after(c, i) {
			return
		}
		b.h[i], b.h[c] = b.h[c], b.h[i]
		i = c
	}
}

func (b *bounded) sorted() []KeyRow {
	out := slices.Clone(b.h)
	slices.SortFunc(out, b.order)
	return out
}
