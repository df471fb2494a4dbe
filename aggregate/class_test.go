package aggregate

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestClassFilters(t *testing.T) {
	c := Class(1<<0 | 1<<3 | 1<<63)
	if got, want := c.Filters(), []int{0, 3, 63}; !slices.Equal(got, want) {
		t.Errorf("Filters() = %v, want %v", got, want)
	}
	for i, want := range map[int]bool{0: true, 1: false, 3: true, 63: true, 64: false, -1: false} {
		if c.Has(i) != want {
			t.Errorf("Has(%d) = %v, want %v", i, !want, want)
		}
	}
	if len(Class(0).Filters()) != 0 {
		t.Error("class 0 has filters")
	}
}

// TestClassUnionIsTheMergeOfTheSelectedClasses: a filter's partial
// aggregate, read as the union of the classes with its bit, equals a
// State fed exactly the requests of those classes.
func TestClassUnionIsTheMergeOfTheSelectedClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	states := map[Class]*State{}
	refs := [3]reference{{}, {}, {}} // all, filter 0, filter 1
	for range 3000 {
		key, o := randomStateObs(rng, 30)
		c := Class(rng.IntN(4)) // bits 0 and 1
		if states[c] == nil {
			states[c] = NewState()
		}
		states[c].Add([]byte(key), &o)
		refs[0].add(key, &o)
		for i := range 2 {
			if c.Has(i) {
				refs[i+1].add(key, &o)
			}
		}
	}
	var cs []ClassPartials
	for c, st := range states {
		cs = append(cs, ClassPartials{c, st})
	}
	SortClasses(cs)
	for i := range cs {
		if cs[i].Class != Class(i) {
			t.Fatalf("class %d at %d after SortClasses", cs[i].Class, i)
		}
	}
	equalSeries(t, collect(t, ClassUnion(cs, nil)), refs[0].series())
	for i := range 2 {
		equalSeries(t, collect(t, ClassUnion(cs, func(c Class) bool { return c.Has(i) })), refs[i+1].series())
	}
	if got := collect(t, ClassUnion(cs, func(Class) bool { return false })); len(got) != 0 {
		t.Errorf("union of no class: %d series", len(got))
	}
}
