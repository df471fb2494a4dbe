package aggregate

import (
	"cmp"
	"math/bits"
	"slices"
)

// Class is a request class: the set of a policy's request filters (the
// scopes of its scoped limits) that count a request. Bit i is set when
// filter i counts it; class 0 is the requests no filter counts (every
// request, when the policy has no scoped limit). Each keyed request is
// in exactly one class, so the classes of a run partition its requests:
// the partial aggregate of a filter is the merge of the classes with
// its bit, that of every request the merge of all classes.
//
// Classes rather than one partial aggregate per filter, because a
// gateway that applies several scoped limits together must know, at
// each instant, how many requests each combination of them counted:
// per-filter sums cannot say.
type Class uint64

// MaxFilters is how many request filters a Class can tell apart.
const MaxFilters = 64

// Has reports whether filter i counts the class's requests.
func (c Class) Has(i int) bool { return uint(i) < MaxFilters && c&(1<<uint(i)) != 0 }

// Filters returns the indexes of the filters that count the class's
// requests, in ascending order.
func (c Class) Filters() []int {
	var out []int
	for c != 0 {
		i := bits.TrailingZeros64(uint64(c))
		out = append(out, i)
		c &^= 1 << uint(i)
	}
	return out
}

// ClassPartials is the partial aggregate of one request class.
type ClassPartials struct {
	Class    Class
	Partials Partials
}

// SortClasses sorts cs by class, the canonical order of a run's
// classes.
func SortClasses(cs []ClassPartials) {
	slices.SortFunc(cs, func(a, b ClassPartials) int { return cmp.Compare(a.Class, b.Class) })
}

// ClassUnion returns the merge of the classes in cs that match selects
// (all of them with a nil match): the partial aggregate of a filter is
// ClassUnion(cs, func(c Class) bool { return c.Has(i) }). It has no
// class when none match: each Open then returns an empty cursor.
func ClassUnion(cs []ClassPartials, match func(Class) bool) Partials {
	var ps []Partials
	for _, c := range cs {
		if match == nil || match(c.Class) {
			ps = append(ps, c.Partials)
		}
	}
	if len(ps) == 1 {
		return ps[0]
	}
	return union(ps)
}

// union is the merge of partial aggregates, opened together.
type union []Partials

// Open implements Partials.
func (u union) Open() (Cursor, error) {
	cs := make([]Cursor, 0, len(u))
	for _, p := range u {
		c, err := p.Open()
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			return nil, err
		}
		cs = append(cs, c)
	}
	return NewMerge(cs...), nil
}
