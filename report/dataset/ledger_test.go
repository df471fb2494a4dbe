package dataset

import (
	"slices"
	"strings"
	"testing"
)

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestLedger(t *testing.T) {
	var l Ledger
	small := Entry{ID: "bb22aa", Path: "/logs/b.log", Length: 300, Head: "hb"}
	big := Entry{ID: "cc33", Path: "/logs/c.log", Length: 1 << 20, Head: "hc"}
	other := Entry{ID: "dd44", Path: "/logs/b.log", Length: 100 << 10, Head: "hc"}
	for _, e := range []Entry{entry, small, big, other} {
		if err := l.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Add(small); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("Add of a duplicate: %v", err)
	}
	if err := l.Add(Entry{Path: "x"}); err == nil {
		t.Error("Add without an id: no error")
	}
	if e, ok := l.ByID("cc33"); !ok || e.Path != "/logs/c.log" {
		t.Errorf("ByID = %+v, %v", e, ok)
	}
	if _, ok := l.ByID("cc"); ok {
		t.Error("ByID matched a prefix")
	}
	// Heads: 300 bytes of the small file, 1000 of entry, 64 KiB of the others.
	if got := l.HeadLens(); !slices.Equal(got, []int64{300, 1000, HeadBytes}) {
		t.Errorf("HeadLens = %v", got)
	}
	if got := ids(l.ByHead(HeadBytes, "hc")); !slices.Equal(got, []string{"cc33", "dd44"}) {
		t.Errorf("ByHead(64K, hc) = %v", got)
	}
	if got := l.ByHead(300, "hc"); len(got) != 0 {
		t.Errorf("ByHead over another length = %v", ids(got))
	}
	if got := ids(l.ByHead(300, "hb")); !slices.Equal(got, []string{"bb22aa"}) {
		t.Errorf("ByHead(300, hb) = %v", got)
	}
	// forget's arguments: a path (all its readings), else an id prefix.
	if got := ids(l.Find("/logs/b.log")); !slices.Equal(got, []string{"bb22aa", "dd44"}) {
		t.Errorf("Find(path) = %v", got)
	}
	if got := ids(l.Find("BB22")); !slices.Equal(got, []string{"bb22aa"}) {
		t.Errorf("Find(prefix) = %v", got)
	}
	if got := l.Find("bb2"); len(got) != 0 {
		t.Errorf("Find of a 3-digit prefix = %v", ids(got))
	}
	// The small file grew: its new reading replaces it.
	grown := Entry{ID: "ee55", Path: "/logs/b.log", Length: 600, Head: "hb2"}
	if err := l.Replace("bb22aa", grown); err != nil {
		t.Fatal(err)
	}
	if e, ok := l.ByID("ee55"); !ok || e.Replaces != "bb22aa" {
		t.Errorf("replacement = %+v, %v", e, ok)
	}
	if _, ok := l.ByID("bb22aa"); ok {
		t.Error("the replaced reading is still there")
	}
	if err := l.Replace("bb22aa", Entry{ID: "ff66"}); err == nil {
		t.Error("Replace of an absent entry: no error")
	}
	if err := l.Replace("ee55", big); err == nil {
		t.Error("Replace by an entry already there: no error")
	}
	if !l.Remove("cc33") || l.Remove("cc33") {
		t.Error("Remove: want true, then false")
	}
	if got := ids(l.Entries); !slices.Equal(got, []string{"aa11", "dd44", "ee55"}) {
		t.Errorf("entries = %v", got)
	}
	if e, ok := l.ByID("ee55"); !ok || e.Length != 600 {
		t.Errorf("lookup after removals: %+v, %v", e, ok)
	}
}
