package policy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keyrate/keyrate/aggregate"
)

// memStates keeps checkpoint files in memory, by date.
type memStates struct {
	StateFiles
	files map[int64]*bytes.Buffer
}

func newMemStates() *memStates {
	m := &memStates{files: map[int64]*bytes.Buffer{}}
	m.Open = func(d time.Time) (io.Writer, error) {
		b := &bytes.Buffer{}
		m.files[d.UnixMilli()] = b
		return b, nil
	}
	return m
}

// evalSplit evaluates reqs with day splitting, from the states in start
// (nil: fresh), saving checkpoints at cps; it returns the rows and the
// checkpoint files.
func evalSplit(t *testing.T, pol *Policy, reqs []req, start []byte, cps []int64) (*RowBuffer, *memStates) {
	t.Helper()
	cs := classes{}
	cs.feed(reqs)
	states := newMemStates()
	opts := Options{Split: true, Checkpoints: states, CheckpointDates: []time.Time{}}
	for _, d := range cps {
		opts.CheckpointDates = append(opts.CheckpointDates, aggregate.Millis(d))
	}
	if start != nil {
		c, err := ReadStates(bytes.NewReader(start))
		if err != nil {
			t.Fatal(err)
		}
		opts.Start = c
	}
	rows := &RowBuffer{}
	if _, err := Evaluate(context.Background(), cs.inputs(), pol, opts, rows); err != nil {
		t.Fatal(err)
	}
	if err := states.Close(); err != nil {
		t.Fatal(err)
	}
	if len(states.files) != len(cps) {
		t.Fatalf("%d checkpoint files for %d dates", len(states.files), len(cps))
	}
	return rows, states
}

// datesOf lists the UTC dates (ms) reqs fall on, ascending.
func datesOf(reqs []req) []int64 {
	var ds []int64
	for _, q := range reqs {
		if d := floorDiv(q.t, dayMillis) * dayMillis; !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds
}

// byDate keeps the rows whose routing date keep accepts.
func byDate(b *RowBuffer, keep func(int64) bool) *RowBuffer {
	out := &RowBuffer{}
	for _, r := range b.windows {
		if keep(r.Date.UnixMilli()) {
			out.windows = append(out.windows, r)
		}
	}
	for _, r := range b.violations {
		if keep(r.Date.UnixMilli()) {
			out.violations = append(out.violations, r)
		}
	}
	for _, r := range b.keys {
		if keep(r.Date.UnixMilli()) {
			out.keys = append(out.keys, r)
		}
	}
	for _, r := range b.audits {
		if keep(r.Date.UnixMilli()) {
			out.audits = append(out.audits, r)
		}
	}
	for _, r := range b.usages {
		if keep(r.Date.UnixMilli()) {
			out.usages = append(out.usages, r)
		}
	}
	return out
}

// sameRows checks two evaluations' rows are equal, peak usage included.
func sameRows(t *testing.T, iter int, what string, got, want *RowBuffer) {
	t.Helper()
	diff(t, iter, what+" violations", got.violations, want.violations)
	diff(t, iter, what+" windows", got.windows, want.windows)
	diff(t, iter, what+" audits", got.audits, want.audits)
	diff(t, iter, what+" keys", got.keys, want.keys)
	diff(t, iter, what+" usage", usageValues(got.usages), usageValues(want.usages))
}

// TestCheckpointsContinueEvaluation is the property a nightly dataset
// rests on: for every date d, evaluating the dates before d, saving the
// states at d, and evaluating the dates from d on from those states
// gives exactly the rows of one evaluation of every date, and the same
// checkpoint bytes. Every algorithm (calendar windows included), report
// buckets that straddle midnight or span days, accounts and request
// classes, on random streams with bursts across midnights.
func TestCheckpointsContinueEvaluation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tested, carried := 0, 0
	for iter := 0; tested < 400; iter++ {
		pol, reqs := randomCase(rng)
		days := datesOf(reqs)
		if !uniqueNames(pol) || len(days) < 2 {
			continue
		}
		tested++
		all, allStates := evalSplit(t, pol, reqs, nil, days)
		for i, d := range days[1:] {
			var before, after []req
			for _, q := range reqs {
				if q.t < d {
					before = append(before, q)
				} else {
					after = append(after, q)
				}
			}
			pre, preStates := evalSplit(t, pol, before, nil, days[:i+2])
			sameRows(t, iter, "before", pre, byDate(all, func(x int64) bool { return x < d }))
			for _, c := range days[:i+2] {
				if !bytes.Equal(preStates.files[c].Bytes(), allStates.files[c].Bytes()) {
					t.Errorf("case %d: checkpoint at %s from the dates before %s differs", iter, aggregate.Millis(c), aggregate.Millis(d))
				}
			}
			start := allStates.files[d].Bytes()
			if len(start) > 10 {
				carried++
			}
			rest, restStates := evalSplit(t, pol, after, start, days[i+1:])
			sameRows(t, iter, "from", rest, byDate(all, func(x int64) bool { return x >= d }))
			for _, c := range days[i+1:] {
				if !bytes.Equal(restStates.files[c].Bytes(), allStates.files[c].Bytes()) {
					t.Errorf("case %d: checkpoint at %s from the states at %s differs", iter, aggregate.Millis(c), aggregate.Millis(d))
				}
			}
			if t.Failed() {
				t.Logf("split at %s", aggregate.Millis(d))
				logCase(t, pol, reqs, true)
				return
			}
		}
	}
	if carried < tested/2 {
		t.Errorf("only %d of the splits carried a state: the test data hardly crosses dates", carried)
	}
}

// TestCheckpointBytesAreCanonical: the same requests give the same
// checkpoint bytes whatever the order they were read in and however
// they were split over partial aggregates, and evaluating twice changes
// nothing.
func TestCheckpointBytesAreCanonical(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := range 200 {
		pol, reqs := randomCase(rng)
		days := datesOf(reqs)
		if !uniqueNames(pol) || len(days) == 0 {
			continue
		}
		_, a := evalSplit(t, pol, reqs, nil, days)
		shuffled := slices.Clone(reqs)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		_, b := evalSplit(t, pol, shuffled, nil, days)
		_, c := evalSplit(t, pol, reqs, nil, days)
		for _, d := range days {
			if !bytes.Equal(a.files[d].Bytes(), b.files[d].Bytes()) || !bytes.Equal(a.files[d].Bytes(), c.files[d].Bytes()) {
				t.Fatalf("case %d: checkpoint at %s differs between evaluations", iter, aggregate.Millis(d))
			}
			// Reading a file back and writing it again gives its bytes.
			cur, err := ReadStates(bytes.NewReader(a.files[d].Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := WriteStates(&again, cur); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), a.files[d].Bytes()) {
				t.Fatalf("case %d: checkpoint at %s does not survive a round trip", iter, aggregate.Millis(d))
			}
		}
	}
}

// TestSplitSumsToUnsplit: summing a split evaluation's rows over dates
// gives the flat evaluation's: requests, allowed, excess and throttles
// per bucket, every audit total (the peak is the maximum), every key
// total. Caught, leaked and false throttles are reconciled per date, so
// they only match where no bucket spans a midnight.
func TestSplitSumsToUnsplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for iter := range 400 {
		pol, reqs := randomCase(rng)
		if !uniqueNames(pol) {
			continue
		}
		// A window's part on a date is listed by default only once the
		// window is half full: the sums need them all.
		pol.AllWindows = true
		cs := classes{}
		cs.feed(reqs)
		flat, split := &RowBuffer{}, &RowBuffer{}
		for _, e := range []struct {
			split bool
			out   *RowBuffer
		}{{false, flat}, {true, split}} {
			if _, err := Evaluate(context.Background(), cs.inputs(), pol, Options{Split: e.split}, e.out); err != nil {
				t.Fatal(err)
			}
		}
		type bucketKey struct {
			key, scope, plan, limit string
			start                   int64
		}
		type sums struct{ requests, allowed, excess, observed, caught, exceeded int64 }
		windows := map[bucketKey]int64{}
		for _, w := range split.windows {
			windows[bucketKey{w.Key, "", "", w.LimitName, w.WindowStart.UnixMilli()}] += w.Requests
		}
		for _, w := range flat.windows {
			if k := (bucketKey{w.Key, "", "", w.LimitName, w.WindowStart.UnixMilli()}); windows[k] != w.Requests {
				t.Fatalf("case %d: window %+v: split rows sum to %d requests, want %d", iter, k, windows[k], w.Requests)
			}
		}
		vio := map[bucketKey]*sums{}
		for _, v := range split.violations {
			k := bucketKey{v.Key, v.Scope, v.Plan, v.LimitName, v.WindowStart.UnixMilli()}
			if vio[k] == nil {
				vio[k] = &sums{}
			}
			vio[k].excess += v.Excess
			vio[k].observed += v.GatewayRejected
			vio[k].caught += v.Caught
		}
		for _, v := range flat.violations {
			k := bucketKey{v.Key, v.Scope, v.Plan, v.LimitName, v.WindowStart.UnixMilli()}
			s := vio[k]
			if s == nil || s.excess != v.Excess || s.observed > v.GatewayRejected || s.caught != v.Caught { // a part without excess has no row
				t.Fatalf("case %d: bucket %+v: split rows sum to %+v, flat row %+v", iter, k, s, v)
			}
		}
		audit := map[bucketKey]*sums{}
		peak := map[bucketKey]float64{}
		for _, a := range split.audits {
			k := bucketKey{a.Key, a.Scope, a.Plan, a.LimitName, 0}
			if audit[k] == nil {
				audit[k] = &sums{}
			}
			s := audit[k]
			s.requests += a.Requests
			s.allowed += a.Allowed
			s.excess += a.Excess
			s.observed += a.GatewayRejected
			s.caught += a.Caught
			s.exceeded += a.ExceededBuckets
			peak[k] = max(peak[k], a.PeakUsagePct)
		}
		for _, a := range flat.audits {
			k := bucketKey{a.Key, a.Scope, a.Plan, a.LimitName, 0}
			want := sums{a.Requests, a.Allowed, a.Excess, a.GatewayRejected, a.Caught, a.ExceededBuckets}
			got := audit[k]
			if got == nil {
				got = &sums{}
			}
			// Do the rule's buckets stay within a date?
			r := pol.Plans[a.Plan].Rules[slices.IndexFunc(pol.Plans[a.Plan].Rules, func(r Rule) bool { return r.Name == a.LimitName })]
			width := pol.ReportMillis
			if r.Algorithm == Fixed {
				width = r.WindowMillis
				if r.Calendar == Day {
					width = dayMillis
				}
			}
			divides := width > 0 && dayMillis%width == 0
			gotCaught := got.caught
			if !divides {
				want.caught, got.caught = 0, 0
			}
			if *got != want || gotCaught > a.Caught || peak[k] != a.PeakUsagePct {
				t.Fatalf("case %d: audit %+v: split sums %+v (peak %g), flat %+v (peak %g)", iter, k, *got, peak[k], want, a.PeakUsagePct)
			}
		}
		keys := map[string]*sums{}
		for _, k := range split.keys {
			if keys[k.Key] == nil {
				keys[k.Key] = &sums{}
			}
			keys[k.Key].requests += k.Requests
			keys[k.Key].exceeded += k.Violations
		}
		// keys.violations counts the key's violation rows: a bucket
		// spanning dates has a row on each, so it adds up to the rows of
		// each output, not across outputs.
		rows := func(b *RowBuffer, key string) (n int64) {
			for _, v := range b.violations {
				if v.Key == key && v.Scope == ScopeKey {
					n++
				}
			}
			return n
		}
		for _, k := range flat.keys {
			if s := keys[k.Key]; s == nil || s.requests != k.Requests || s.exceeded != rows(split, k.Key) || k.Violations != rows(flat, k.Key) {
				t.Fatalf("case %d: key %s: split rows sum to %+v, flat row %+v", iter, k.Key, s, k)
			}
		}
		if len(keys) != len(flat.keys) {
			t.Fatalf("case %d: %d keys split, %d flat", iter, len(keys), len(flat.keys))
		}
	}
}

// TestStartStatesMustMatch: states of another policy, or requests before
// the states' date, are errors, not silently wrong rows.
func TestStartStatesMustMatch(t *testing.T) {
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	ms := day.UnixMilli()
	rules := []Rule{
		{Name: "monthly", Algorithm: Fixed, Limit: 5, Calendar: Month, Filter: -1},
		{Name: "1/s", Algorithm: Fixed, Limit: 1, WindowMillis: 1000, Filter: -1},
	}
	pol := &Policy{Plans: map[string]*Plan{CLIPlan: {Name: CLIPlan, Rules: rules}}, DefaultPlan: CLIPlan}
	reqs := []req{{key: "k", t: ms - 1000, status: 200}, {key: "k", t: ms - 1000, status: 200}}
	_, st := evalSplit(t, pol, reqs, nil, []int64{ms})
	good := st.files[ms].Bytes()
	if len(good) < 10 {
		t.Fatalf("no state saved: %q", good)
	}
	cases := map[string]struct {
		pol  *Policy
		reqs []req
	}{
		"renamed limit":  {FromLimits([]Limit{{Name: "5/d", Allowed: 5, WindowMillis: dayMillis}}), nil},
		"no plan":        {&Policy{Plans: pol.Plans}, nil},
		"request before": {pol, []req{{key: "k", t: ms - 1, status: 200}}},
		"other plan":     {&Policy{Plans: map[string]*Plan{"p": {Name: "p", Rules: pol.Plans[CLIPlan].Rules}}, DefaultPlan: "p"}, nil},
		"other algorithm": {&Policy{Plans: map[string]*Plan{CLIPlan: {Name: CLIPlan, Rules: []Rule{
			{Name: "monthly", Algorithm: Sliding, Limit: 5, WindowMillis: dayMillis, Filter: -1}}}}, DefaultPlan: CLIPlan}, nil},
	}
	for name, c := range cases {
		cs := classes{}
		cs.feed(c.reqs)
		cur, err := ReadStates(bytes.NewReader(good))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Evaluate(context.Background(), cs.inputs(), c.pol, Options{Split: true, Start: cur}, &RowBuffer{})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Without Split there are no dates to carry states across.
	cur, _ := ReadStates(bytes.NewReader(good))
	if _, err := Evaluate(context.Background(), Inputs{}, pol, Options{Start: cur}, &RowBuffer{}); err == nil {
		t.Error("start states without Split accepted")
	}
}

// TestStateFileRejectsDamage: any flipped or missing byte of a checkpoint
// file is reported, never read as other states.
func TestStateFileRejectsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var file []byte
	for file == nil {
		pol, reqs := randomCase(rng)
		days := datesOf(reqs)
		if !uniqueNames(pol) || len(days) < 2 {
			continue
		}
		_, st := evalSplit(t, pol, reqs, nil, days)
		for _, d := range days {
			if b := st.files[d].Bytes(); len(b) > 60 {
				file = b
			}
		}
	}
	readAll := func(b []byte) error {
		c, err := ReadStates(bytes.NewReader(b))
		if err != nil {
			return err
		}
		for {
			if _, err := c.Next(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	if err := readAll(file); err != nil {
		t.Fatal(err)
	}
	for i := range file {
		for _, bit := range []byte{1, 0x80} {
			b := slices.Clone(file)
			b[i] ^= bit
			if readAll(b) == nil {
				t.Fatalf("flipping bit %#x of byte %d went unnoticed", bit, i)
			}
		}
		if readAll(file[:i]) == nil {
			t.Fatalf("a file cut to %d of %d bytes went unnoticed", i, len(file))
		}
	}
	if err := readAll(append(slices.Clone(file), 0)); err == nil {
		t.Fatal("a byte after the end went unnoticed")
	}
}

// FuzzReadStates: no input makes the reader panic, and what it accepts
// it writes back byte for byte.
func FuzzReadStates(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 0; n < 5; {
		pol, reqs := randomCase(rng)
		days := datesOf(reqs)
		if !uniqueNames(pol) || len(days) == 0 {
			continue
		}
		cs := classes{}
		cs.feed(reqs)
		st := newMemStates()
		opts := Options{Split: true, Checkpoints: st}
		if _, err := Evaluate(context.Background(), cs.inputs(), pol, opts, &RowBuffer{}); err != nil {
			f.Fatal(err)
		}
		if err := st.Close(); err != nil {
			f.Fatal(err)
		}
		for _, b := range st.files {
			f.Add(b.Bytes())
		}
		n++
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ReadStates(bytes.NewReader(b))
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := WriteStates(&again, c); err != nil {
			return
		}
		if !bytes.Equal(again.Bytes(), b) {
			t.Fatalf("accepted %x, wrote back %x", b, again.Bytes())
		}
	})
}

// ExampleStateFiles shows the checkpoint of a key over its daily quota.
func ExampleStateFiles() {
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	st := aggregate.NewState()
	for range 7 {
		st.Add([]byte("k"), &aggregate.Observation{TimeMillis: day.UnixMilli() - 3_600_000, Status: 200})
	}
	st.Add([]byte("k"), &aggregate.Observation{TimeMillis: day.UnixMilli() + 60_000, Status: 200})
	pol := FromLimits([]Limit{{Name: "5/day", Allowed: 5, WindowMillis: dayMillis}, {Name: "10/2day", Allowed: 10, WindowMillis: 2 * dayMillis}})
	var files bytes.Buffer
	cps := &StateFiles{Open: func(time.Time) (io.Writer, error) { return &files, nil }}
	opts := Options{Split: true, Checkpoints: cps, CheckpointDates: []time.Time{day}}
	if _, err := Evaluate(context.Background(), Inputs{Classes: []ClassPartials{{Partials: st}}}, pol, opts, &RowBuffer{}); err != nil {
		panic(err)
	}
	if err := cps.Close(); err != nil {
		panic(err)
	}
	c, err := ReadStates(&files)
	if err != nil {
		panic(err)
	}
	for {
		s, err := c.Next()
		if err != nil {
			break
		}
		for _, r := range s.Rules {
			fmt.Printf("%s %s at %s: %s accepted %d\n", s.Scope, s.Key, c.Date().Format(time.DateOnly), r.Limit, r.Accepted)
		}
	}
	// The plan is one gateway: the 2 requests 5/day refused are not
	// counted in 10/2day either.

	// Output:
	// key k at 2026-11-24: 10/2day accepted 5
}
