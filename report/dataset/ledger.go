package dataset

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// HeadBytes is how much of an input's decompressed start its head hash
// covers: min(length, HeadBytes) bytes.
const HeadBytes = 64 << 10

// Ledger is ledger.json: every input whose lines are in the dataset,
// identified by content (design section 4), in the order they were read.
type Ledger struct {
	Format  int     `json:"format"`
	Entries []Entry `json:"inputs"`

	byID map[string]int // Entries index
}

// Entry is one reading of an input.
type Entry struct {
	// ID is the hex xxh3-128 of the decompressed content read.
	ID          string `json:"id"`
	Path        string `json:"path"`
	Compression string `json:"compression,omitempty"`
	Bytes       int64  `json:"bytes"`  // the file's size as stored
	Length      int64  `json:"length"` // decompressed bytes read
	// Head is the hex xxh3-128 of the first min(Length, HeadBytes) bytes.
	Head      string      `json:"head"`
	Lines     int64       `json:"lines"`
	Parsed    int64       `json:"parsed"`
	Malformed int64       `json:"malformed"`
	Keyless   int64       `json:"keyless"`
	Expired   int64       `json:"expired"` // lines before the retention horizon, not aggregated
	First     time.Time   `json:"first,omitzero"`
	Last      time.Time   `json:"last,omitzero"`
	Dates     []DateCount `json:"dates,omitempty"` // UTC dates of the aggregated lines, sorted
	ReadAt    time.Time   `json:"read_at"`
	// Replaces is the ID of the earlier reading of the same file (its
	// first Length bytes) that this one replaced when the file grew.
	Replaces string `json:"replaces,omitempty"`
}

// DateCount is a date's parsed lines in one input.
type DateCount struct {
	Date  string `json:"date"`
	Lines int64  `json:"lines"`
}

// HeadLen is how many bytes e's head hash covers.
func (e *Entry) HeadLen() int64 { return min(e.Length, HeadBytes) }

// index builds the lookup table, refusing an ID twice.
func (l *Ledger) index() error {
	l.byID = make(map[string]int, len(l.Entries))
	for i, e := range l.Entries {
		if e.ID == "" {
			return fmt.Errorf("input %d (%s) has no id", i, e.Path)
		}
		if _, dup := l.byID[e.ID]; dup {
			return fmt.Errorf("input %s is listed twice", e.ID)
		}
		l.byID[e.ID] = i
	}
	return nil
}

func (l *Ledger) ensureIndex() {
	if l.byID == nil {
		l.index()
	}
}

// ByID returns the entry whose content hash is id.
func (l *Ledger) ByID(id string) (Entry, bool) {
	l.ensureIndex()
	i, ok := l.byID[id]
	if !ok {
		return Entry{}, false
	}
	return l.Entries[i], true
}

// HeadLens returns the distinct head lengths of the entries, ascending:
// an input is compared with the ledger by hashing its first n bytes for
// each n (all within the first HeadBytes).
func (l *Ledger) HeadLens() []int64 {
	var ns []int64
	for i := range l.Entries {
		ns = append(ns, l.Entries[i].HeadLen())
	}
	slices.Sort(ns)
	return slices.Compact(ns)
}

// ByHead returns the entries whose first n bytes hash to head (n being
// their HeadLen): the inputs that an input with that hash at n may
// duplicate or extend. None is the common case: a new input.
func (l *Ledger) ByHead(n int64, head string) []Entry {
	var out []Entry
	for _, e := range l.Entries {
		if e.HeadLen() == n && e.Head == head {
			out = append(out, e)
		}
	}
	return out
}

// Find returns the entries an argument of `keyrate dataset forget`
// names: those read from that path, or else those whose ID starts with
// it (at least 4 hex digits).
func (l *Ledger) Find(arg string) []Entry {
	var out []Entry
	for _, e := range l.Entries {
		if e.Path == arg {
			out = append(out, e)
		}
	}
	if len(out) > 0 || len(arg) < 4 {
		return out
	}
	for _, e := range l.Entries {
		if strings.HasPrefix(e.ID, strings.ToLower(arg)) {
			out = append(out, e)
		}
	}
	return out
}

// Add appends e; an entry with its ID already there is an error (the
// input is a duplicate, which the caller skips).
func (l *Ledger) Add(e Entry) error {
	l.ensureIndex()
	if e.ID == "" {
		return fmt.Errorf("ledger: %s: no id", e.Path)
	}
	if _, ok := l.byID[e.ID]; ok {
		return fmt.Errorf("ledger: %s: input %s is in the ledger already", e.Path, e.ID)
	}
	l.byID[e.ID] = len(l.Entries)
	l.Entries = append(l.Entries, e)
	return nil
}

// Replace removes the entry old and adds e, which records it in
// Replaces: a grown file's new reading.
func (l *Ledger) Replace(old string, e Entry) error {
	if _, ok := l.ByID(old); !ok {
		return fmt.Errorf("ledger: %s: no input %s to replace", e.Path, old)
	}
	if _, ok := l.ByID(e.ID); ok {
		return fmt.Errorf("ledger: %s: input %s is in the ledger already", e.Path, e.ID)
	}
	l.Remove(old)
	e.Replaces = old
	return l.Add(e)
}

// Remove removes the entry id, reporting whether there was one.
func (l *Ledger) Remove(id string) bool {
	l.ensureIndex()
	i, ok := l.byID[id]
	if !ok {
		return false
	}
	l.Entries = slices.Delete(l.Entries, i, i+1)
	l.index()
	return true
}
