package job

import (
	"context"
	"io"
	"slices"

	"github.com/zeebo/xxh3"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/report/dataset"
)

// Kinds of input, as a run classifies them against the dataset's ledger
// and against each other (docs/warehouse.md, "what a run reads").
const (
	// New content: read whole, its requests added.
	kindNew = "new"
	// The content of an input already read (under any name or
	// compression), or of another input of this run: skipped.
	kindDuplicate = "duplicate"
	// An input already read has since grown (a live log read before its
	// rotation): its earlier reading is taken back and the whole input
	// read.
	kindGrown = "grown"
	// The first part of an input already read (or of a longer input of
	// this run): skipped, every line of it is counted already.
	kindContained = "contained"
)

// inputPlan is what a run does with one input.
type inputPlan struct {
	path string
	kind string
	// id is the input's identity when known before reading (inputs
	// hashed in the pre-pass); for new inputs it comes from the read.
	id    pipeline.Identity
	known bool
	// of is the ledger entry the input duplicates, contains (grown) or
	// is contained in; other the input of this run it duplicates or is
	// contained in.
	of    *dataset.Entry
	other string
}

// head is the first min(length, HeadBytes) decompressed bytes of an
// input, as the pipeline hashes them.
type head struct {
	bytes    []byte
	complete bool // the input ends within them
}

// hashAt is the hex hash of the first n bytes, "" if the head does not
// hold n bytes.
func (h *head) hashAt(n int64) string {
	if n > int64(len(h.bytes)) {
		return ""
	}
	return pipeline.HexHash(xxh3.Hash128(h.bytes[:n]))
}

// identifier reads inputs for their identity: the pipeline's pre-pass,
// a seam for tests.
type identifier interface {
	head(ctx context.Context, path string) (head, error)
	identify(ctx context.Context, path string, at []int64) (pipeline.Identity, []string, error)
}

type pipelineIdentifier struct{ stdin io.Reader }

func (p pipelineIdentifier) head(ctx context.Context, path string) (head, error) {
	b, complete, err := pipeline.ReadHead(ctx, path, p.stdin)
	return head{bytes: b, complete: complete}, err
}

func (p pipelineIdentifier) identify(ctx context.Context, path string, at []int64) (pipeline.Identity, []string, error) {
	return pipeline.Identify(ctx, path, p.stdin, at)
}

// classify decides, for each input in argument order, whether it is new,
// a duplicate, grown or contained, against the ledger and the run's
// other inputs. Most inputs are new and cost one read of their first
// HeadBytes; only an input whose head matches something already read
// (or another input's) is hashed whole before the run reads it.
// Standard input ("-") cannot be read twice: it is new, and checked
// after the read (checkStdin).
func classify(ctx context.Context, idf identifier, ledger *dataset.Ledger, paths []string) ([]inputPlan, error) {
	plans := make([]inputPlan, len(paths))
	heads := make([]head, len(paths))
	candidate := make([]bool, len(paths))
	for i, p := range paths {
		plans[i] = inputPlan{path: p, kind: kindNew}
		if p == "-" {
			continue
		}
		h, err := idf.head(ctx, p)
		if err != nil {
			return nil, err
		}
		heads[i] = h
		for k := range ledger.Entries {
			if matchesEntry(&h, &ledger.Entries[k]) {
				candidate[i] = true
				break
			}
		}
	}
	// Inputs of this run whose heads say one may hold the other.
	for i := range paths {
		for j := range i {
			if paths[i] == "-" || paths[j] == "-" {
				continue
			}
			if sameStart(&heads[i], &heads[j]) {
				candidate[i], candidate[j] = true, true
			}
		}
	}
	// Hash the candidates whole, noting their hashes at the lengths of
	// the entries they may extend.
	sums := make([]map[int64]string, len(paths))
	for i, p := range paths {
		if !candidate[i] {
			continue
		}
		var at []int64
		for _, e := range ledger.Entries {
			if e.Length < heads[i].length() || !heads[i].complete {
				at = append(at, e.Length)
			}
		}
		id, hs, err := idf.identify(ctx, p, at)
		if err != nil {
			// A damaged input: known if what can be read of it was read
			// before (--skip-corrupt); else the run reads it as new, and
			// fails on it or skips its damaged end as --skip-corrupt says.
			if e, ok := ledger.ByID(id.Hash); ok && e.Length == id.Length && id.Length > 0 {
				plans[i].kind, plans[i].of = kindDuplicate, &e
			}
			candidate[i] = false
			continue
		}
		plans[i].id, plans[i].known = id, true
		sums[i] = map[int64]string{}
		for k, n := range at {
			sums[i][n] = hs[k]
		}
	}
	for i := range plans {
		if !candidate[i] {
			continue
		}
		if err := againstLedger(ctx, idf, ledger, &plans[i], sums[i]); err != nil {
			return nil, err
		}
	}
	return plans, againstEachOther(ctx, idf, plans, candidate)
}

func (h *head) length() int64 { return int64(len(h.bytes)) }

// matchesEntry reports whether an input with head h may equal, extend or
// be the start of e.
func matchesEntry(h *head, e *dataset.Entry) bool {
	if e.Length <= h.length() {
		return h.hashAt(e.Length) == e.ID // h starts with all of e
	}
	if e.Length >= pipeline.HeadBytes && !h.complete {
		return h.hashAt(pipeline.HeadBytes) == e.Head
	}
	// h is shorter than e and than HeadBytes: whether e starts with it
	// could only be told from e's bytes, which the ledger does not keep
	// (they hold keys). Such an input is read as new.
	return false
}

// sameStart reports whether one of two inputs may start with the other.
func sameStart(a, b *head) bool {
	n := min(a.length(), b.length())
	if (n < a.length() && !b.complete) || (n < b.length() && !a.complete) {
		return false // cannot happen: a head is short only when complete
	}
	return a.hashAt(n) == b.hashAt(n)
}

// againstLedger classifies a candidate p, hashed whole (sums: its hash
// at each entry's length), against the ledger.
func againstLedger(ctx context.Context, idf identifier, ledger *dataset.Ledger, p *inputPlan, sums map[int64]string) error {
	var grownFrom, container *dataset.Entry
	for k := range ledger.Entries {
		e := &ledger.Entries[k]
		switch {
		case e.ID == p.id.Hash && e.Length == p.id.Length:
			p.kind, p.of = kindDuplicate, e
			return nil
		case e.Length < p.id.Length && sums[e.Length] == e.ID:
			if grownFrom == nil || e.Length > grownFrom.Length {
				grownFrom = e
			}
		case e.Length > p.id.Length && (e.Head == p.id.Head || e.Length < pipeline.HeadBytes):
			if container == nil {
				container = e
			}
		}
	}
	if grownFrom != nil {
		p.kind, p.of = kindGrown, grownFrom
		return nil
	}
	if container != nil {
		// Is p the start of an input read before? Only that input's
		// file, if it is still there with the same content, can say.
		if id, hs, err := idf.identify(ctx, container.Path, []int64{p.id.Length}); err == nil &&
			id.Hash == container.ID && hs[0] == p.id.Hash {
			p.kind, p.of = kindContained, container
		}
	}
	return nil
}

// againstEachOther skips inputs of this run that repeat or are the start
// of another one: the first of equal inputs (in argument order) is read,
// and of an input and one that extends it, the longer.
func againstEachOther(ctx context.Context, idf identifier, plans []inputPlan, candidate []bool) error {
	reads := func(p *inputPlan) bool { return p.kind == kindNew || p.kind == kindGrown }
	for i := range plans {
		if !candidate[i] || !reads(&plans[i]) {
			continue
		}
		for j := range plans {
			if i == j || !candidate[j] || !reads(&plans[j]) || !reads(&plans[i]) {
				continue
			}
			a, b := &plans[i], &plans[j]
			switch {
			case a.id.Hash == b.id.Hash && a.id.Length == b.id.Length:
				if j < i {
					a.kind, a.other = kindDuplicate, b.path
				}
			case a.id.Length < b.id.Length && a.id.Head == headOfPrefix(b, a):
				_, hs, err := idf.identify(ctx, b.path, []int64{a.id.Length})
				if err != nil {
					return err
				}
				if hs[0] == a.id.Hash {
					a.kind, a.other, a.of = kindContained, b.path, nil
				}
			}
		}
	}
	return nil
}

// headOfPrefix is what a's head would be if a were the start of b: b's
// head when a is at least HeadBytes long, else a's own (a full check
// follows).
func headOfPrefix(b, a *inputPlan) string {
	if a.id.Length >= pipeline.HeadBytes {
		return b.id.Head
	}
	return a.id.Head
}

// readLength is how much of an input the run reads: what the pre-pass
// hashed, so that a live log growing meanwhile is read as identified
// (-1: all of it).
func (p *inputPlan) readLength() int64 {
	if p.known {
		return p.id.Length
	}
	return -1
}

// sortedPaths returns the paths of the plans of kind k.
func pathsOf(plans []inputPlan, kinds ...string) []string {
	var out []string
	for _, p := range plans {
		if slices.Contains(kinds, p.kind) {
			out = append(out, p.path)
		}
	}
	return out
}
