package report

import (
	"testing"
)

// A nullable column's zero survives spooling: gob alone reads a pointer
// to 0 back as nil, which turned a quota's remaining 0 into null in
// every partition past a table's first roomyParts.
func TestSpoolKeepsZeroPointers(t *testing.T) {
	type row struct {
		Key        string
		Zero, Null *int64
		Five       *int64
	}
	zero, five := int64(0), int64(5)
	sp, err := newRowSpool[row](OSFS{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	in := []row{{Key: "a", Zero: &zero, Five: &five}, {Key: "b"}, {Key: "c", Zero: &zero}}
	for i := range in {
		if err := sp.add(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	var got []row
	if err := sp.replay(func(r *row) error { got = append(got, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d rows back, want %d", len(got), len(in))
	}
	for i, r := range got {
		w := in[i]
		if r.Key != w.Key || (r.Zero == nil) != (w.Zero == nil) || (r.Null == nil) != (w.Null == nil) || (r.Five == nil) != (w.Five == nil) {
			t.Errorf("row %d: %+v, want %+v (nil pointers as they were)", i, r, w)
			continue
		}
		if r.Zero != nil && *r.Zero != 0 || r.Five != nil && *r.Five != 5 {
			t.Errorf("row %d: values changed", i)
		}
	}
}
