// Package job is keyrate's application layer for a dataset: an output
// directory that nightly runs add up in (docs/warehouse.md). A run reads
// only what the dataset has not read, stores the per-(key, timestamp)
// partial aggregate by date, and evaluates the policy again from the
// first date it changed, starting from the state each key's gateway was
// in at that date's start (a checkpoint): after any sequence of runs,
// every date's partitions hold exactly what one run over every input
// read so far would write.
//
// A run is: Read (classify the inputs against the ledger, read the new
// and grown ones, and the earlier readings of grown ones to take back),
// then, once the caller has checked what was read, Write (update the
// stored partials of the touched dates, evaluate, stage every changed
// partition and checkpoint, commit them with the ledger in one journaled
// commit). The caller holds the output directory's lock throughout.
package job

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/dataset"
	"github.com/keyrate/keyrate/report/schema"
)

// DefaultRetainDays keeps a 31-day month of partials and 9 days for late
// logs: enough for every calendar quota but a year's to add up.
const DefaultRetainDays = 40

// Config is what a dataset run needs.
type Config struct {
	Dir        string
	FS         report.FS
	Formats    []report.Format
	SetOptions []report.Option
	// Read is how inputs are read; the run sets its MinTime and Limits.
	Read   pipeline.Config
	Policy *policy.Policy
	// PolicyKeyMap maps the policy's key and account names to displayed
	// keys (policy.Options.KeyMap).
	PolicyKeyMap func(string) string
	// Settings are the input settings that decide how lines become
	// requests: a dataset refuses a run with others.
	Settings map[string]string
	// KeyDisplay fingerprints the key display; PolicyDigest the policy.
	KeyDisplay   string
	PolicyDigest string
	RetainDays   int
	Stdin        io.Reader
	Now          func() time.Time
	// Observe, if set, wraps the sink the evaluation writes the tables
	// through (the HTML report watches the rows); Finish, if set, is
	// called once the evaluation is over, before the commit, with the
	// partials evaluated (all classes), to add files to the set.
	Observe func(policy.Sink) policy.Sink
	Finish  func(set *report.Set, m *schema.Manifest, evaluated aggregate.Partials) error
}

// Run is one run into a dataset.
type Run struct {
	cfg  *Config
	ds   *store
	meta dataset.Meta
	// filters are the policy's request filters in the dataset's order
	// (sorted canonical forms): class bit i of a stored file is filters[i].
	filters []string
	plans   []inputPlan
	// plus is what this run adds; minus what it takes back (earlier
	// readings of grown inputs, or forgotten inputs); either may be nil.
	plus, minus *pipeline.Result
	// filterMap maps the run's class bits to the dataset's.
	toStored, fromStored func(aggregate.Class) aggregate.Class
	horizon              int64 // epoch ms; lines before it expired
	// keepFrom is the first date whose partials and checkpoint the run
	// stores ("" for all): retention removes those before it.
	keepFrom    string
	inputsAfter int // ledger entries after the run
	evaluated   aggregate.Partials
	forgotten   []string
}

// Skipped is an input a run did not read, and why.
type Skipped struct {
	Path, Kind, Of string
}

// Open loads the dataset in cfg.Dir and checks that this run may add to
// it. The caller holds the directory's lock and has recovered it.
func Open(cfg *Config) (*Run, error) {
	ds, err := openStore(cfg.Dir, cfg.FS)
	if err != nil {
		return nil, err
	}
	if cfg.RetainDays <= 0 {
		cfg.RetainDays = DefaultRetainDays
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Run{cfg: cfg, ds: ds}
	var run []string
	for _, f := range cfg.Policy.Filters {
		run = append(run, f.Canonical())
	}
	r.filters = slices.Sorted(slices.Values(run))
	r.toStored, r.fromStored = classMaps(run, r.filters)
	settings := maps.Clone(cfg.Settings)
	if settings == nil {
		settings = map[string]string{}
	}
	// The partials are split by the scoped limits' filters: a run with
	// others could not read its limits' requests from them.
	settings["the policy's scoped limits (methods, paths, exclude_status)"] = strings.Join(r.filters, " | ")
	inputs, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	r.meta = dataset.Meta{Format: dataset.Format, Inputs: inputs, KeyDisplay: cfg.KeyDisplay,
		PolicyDigest: cfg.PolicyDigest, RetainDays: cfg.RetainDays}
	if err := ds.Check(r.meta); err != nil {
		return nil, err
	}
	if newest := r.newest(ds.dates); newest != "" {
		h, err := dataset.Horizon(newest, cfg.RetainDays)
		if err != nil {
			return nil, err
		}
		r.horizon = h.UnixMilli()
	}
	return r, nil
}

// classMaps return the maps between a run's class numbers (bit i: the
// run policy's filter i) and the dataset's (bit i: stored[i], the
// filters sorted).
func classMaps(run, stored []string) (toStored, fromStored func(aggregate.Class) aggregate.Class) {
	if slices.Equal(run, stored) {
		id := func(c aggregate.Class) aggregate.Class { return c }
		return id, id
	}
	to := make([]int, len(run)) // run bit -> stored bit
	from := make([]int, len(run))
	for i, f := range run {
		to[i] = slices.Index(stored, f)
		from[to[i]] = i
	}
	remap := func(c aggregate.Class, perm []int) aggregate.Class {
		var out aggregate.Class
		for i, j := range perm {
			if c.Has(i) {
				out |= 1 << j
			}
		}
		return out
	}
	toStored = func(c aggregate.Class) aggregate.Class { return remap(c, to) }
	fromStored = func(c aggregate.Class) aggregate.Class { return remap(c, from) }
	return toStored, fromStored
}

// Read classifies paths and reads what the dataset lacks.
func (r *Run) Read(ctx context.Context, paths []string) error {
	return r.ReadWith(ctx, paths, pipeline.Run)
}

// Reader reads inputs as pipeline.Run does: it honours cfg (MinTime and
// Limits included) and returns one FileStats per path, in paths' order,
// each with the input's identity (Hash, Head, Length).
type Reader func(ctx context.Context, paths []string, cfg pipeline.Config) (*pipeline.Result, error)

// ReadWith is Read with the new and grown inputs read by read: how a
// distributed engine (keyrate-beam) adds to the dataset the partials it
// computed on its workers. The rest of the run is the same: the inputs
// are classified here, the earlier readings of grown inputs are read
// back here with pipeline.Run (they are few, and already read once), and
// Write stores and evaluates the partials as after Read.
func (r *Run) ReadWith(ctx context.Context, paths []string, read Reader) error {
	plans, err := classify(ctx, pipelineIdentifier{stdin: r.cfg.Stdin}, r.ds.Ledger, paths)
	if err != nil {
		return err
	}
	r.plans = plans
	cfg := r.cfg.Read
	cfg.MinTime = r.horizon
	cfg.Limits = map[string]int64{}
	var reads []string
	for _, p := range plans {
		if p.kind != kindNew && p.kind != kindGrown {
			continue
		}
		reads = append(reads, p.path)
		if n := p.readLength(); n >= 0 {
			cfg.Limits[p.path] = n
		}
	}
	if len(reads) == 0 {
		r.plus = &pipeline.Result{} // every input is in the dataset already
	} else if r.plus, err = read(ctx, reads, cfg); err != nil {
		return err
	}
	if err := r.checkRead(); err != nil {
		return err
	}
	// The earlier readings of grown inputs: their first bytes, read again
	// from the grown file, as they were read then.
	var back []string
	cfg.Limits = map[string]int64{}
	cfg.Progress = nil
	for _, p := range plans {
		if p.kind == kindGrown {
			back = append(back, p.path)
			cfg.Limits[p.path] = p.of.Length
		}
	}
	return r.readBack(ctx, back, cfg, func(i int) *dataset.Entry {
		for _, p := range plans {
			if p.path == back[i] {
				return p.of
			}
		}
		return nil
	})
}

// Forget takes back the inputs args name (a path, or a prefix of an ID
// as 'keyrate dataset ls' shows it): each is read again from its path,
// which must still hold what was read (its first bytes, if it grew), and
// subtracted; Write then re-evaluates the dates it touched and removes
// it from the ledger.
func (r *Run) Forget(ctx context.Context, args []string) error {
	var entries []dataset.Entry
	var paths []string
	for _, a := range args {
		found := r.ds.Ledger.Find(a)
		switch {
		case len(found) == 0:
			return &SelectError{fmt.Sprintf("%s: no such input in the dataset (keyrate dataset ls %s lists them)", a, r.ds.dir)}
		case len(found) > 1:
			var ids []string
			for _, e := range found {
				ids = append(ids, e.ID[:12]+" (read "+e.ReadAt.UTC().Format(time.RFC3339)+")")
			}
			return &SelectError{fmt.Sprintf("%s names %d inputs: give one of their IDs: %s", a, len(found), strings.Join(ids, ", "))}
		case slices.Contains(paths, found[0].Path):
			return &SelectError{fmt.Sprintf("%s: another input read from %s is forgotten in this run already; forget it in a run of its own", a, found[0].Path)}
		}
		entries = append(entries, found[0])
		paths = append(paths, found[0].Path)
		r.forgotten = append(r.forgotten, found[0].ID)
	}
	r.plus = &pipeline.Result{}
	cfg := r.cfg.Read
	cfg.Progress = nil
	cfg.Limits = map[string]int64{}
	for _, e := range entries {
		cfg.Limits[e.Path] = e.Length
	}
	return r.readBack(ctx, paths, cfg, func(i int) *dataset.Entry { return &entries[i] })
}

// SelectError says an argument of Forget names no input, or several.
type SelectError struct{ msg string }

func (e *SelectError) Error() string { return e.msg }

// readBack reads paths into r.minus and checks that each holds what
// entry(i) recorded; its lines before the retention horizon were never
// added, and are not taken back either.
func (r *Run) readBack(ctx context.Context, paths []string, cfg pipeline.Config, entry func(int) *dataset.Entry) error {
	if len(paths) == 0 {
		return nil
	}
	cfg.MinTime = r.horizon
	var err error
	if r.minus, err = pipeline.Run(ctx, paths, cfg); err != nil {
		return err
	}
	for i, f := range r.minus.Files {
		e := entry(i)
		if f.Hash != e.ID || f.Length != e.Length {
			return fmt.Errorf("%s: its first %d bytes are no longer what was read on %s (%s): it was not appended to but rewritten",
				f.Path, e.Length, e.ReadAt.Format(time.RFC3339), e.Path)
		}
	}
	return nil
}

// checkRead checks that the inputs hashed before the run are what it
// read, and that standard input is not an input read before.
func (r *Run) checkRead() error {
	byPath := map[string]*inputPlan{}
	for i := range r.plans {
		byPath[r.plans[i].path] = &r.plans[i]
	}
	for i, f := range r.plus.Files {
		p := r.plans[r.planIndex(i)]
		if p.known && (f.Hash != p.id.Hash || f.Length != p.id.Length) {
			return fmt.Errorf("%s changed while it was read: read it again once it is complete", f.Path)
		}
		if p.path == "-" {
			if e, ok := r.ds.Ledger.ByID(f.Hash); ok && e.Length == f.Length {
				{
					return fmt.Errorf("standard input holds what %s held, read on %s: nothing written", e.Path, e.ReadAt.Format(time.RFC3339))
				}
			}
		}
	}
	return nil
}

// planIndex returns the index in r.plans of the i-th file read.
func (r *Run) planIndex(i int) int {
	n := -1
	for k, p := range r.plans {
		if p.kind == kindNew || p.kind == kindGrown {
			if n++; n == i {
				return k
			}
		}
	}
	return -1
}

// Result is what the run read (nil before Read, or when it read nothing
// new).
func (r *Run) Result() *pipeline.Result { return r.plus }

// Skipped lists the inputs the run did not read.
func (r *Run) Skipped() []Skipped {
	var out []Skipped
	for _, p := range r.plans {
		switch {
		case p.kind == kindDuplicate || p.kind == kindContained:
			of := p.other
			if p.of != nil {
				of = p.of.Path + " (read " + p.of.ReadAt.UTC().Format(time.RFC3339) + ")"
			}
			out = append(out, Skipped{Path: p.path, Kind: p.kind, Of: of})
		}
	}
	return out
}

// Grown lists the inputs read again whole because they grew.
func (r *Run) Grown() []Skipped {
	var out []Skipped
	for _, p := range r.plans {
		if p.kind == kindGrown {
			out = append(out, Skipped{Path: p.path, Kind: p.kind, Of: p.of.Path})
		}
	}
	return out
}

// SetOptions sets the options of the report set Write commits (they may
// depend on what Read found: the manifest's time range).
func (r *Run) SetOptions(opts ...report.Option) { r.cfg.SetOptions = opts }

// Close removes the run's spilled state.
func (r *Run) Close() {
	if r.plus != nil {
		r.plus.Close()
	}
	if r.minus != nil {
		r.minus.Close()
	}
}

// Outcome is what Write changed.
type Outcome struct {
	// Touched are the dates whose partials changed; Evaluated those
	// evaluated again (from the first touched date on); Expired the
	// dates whose partials retention removed.
	Touched, Evaluated, Expired []string
	Stats                       policy.Stats
	Rows                        map[string]int64
}

// Write updates the dataset with what Read found and commits it with
// manifest m. sink, if not nil, also receives every row evaluated.
func (r *Run) Write(ctx context.Context, m *schema.Manifest) (out *Outcome, err error) {
	out = &Outcome{}
	touched := r.touchedDates()
	set, err := report.NewSetFS(r.cfg.Dir, r.cfg.Formats, r.cfg.FS, r.cfg.SetOptions...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			set.Abort()
		}
	}()
	// The new partials of every touched date: stored + plus - minus.
	after := map[string][]aggregate.Class{} // dates with partials after the run -> classes (stored numbering)
	for _, d := range r.ds.dates {
		if !slices.Contains(touched, d) {
			after[d] = r.ds.classes[d]
		}
	}
	// The touched dates newest first, so that each is known to be within
	// the retention of the newest date with partials or not: one before
	// it is evaluated (its reports are written) but its partials and
	// checkpoint are not stored, as retention would remove them in this
	// very commit (a first run over more than --retain-days of logs, or
	// with a line stamped in year 1).
	newest := r.newest(sortedKeys(after))
	r.keepFrom = ""
	for _, d := range slices.Backward(touched) {
		if newest != "" && d < newest {
			h, err := dataset.Horizon(newest, r.cfg.RetainDays)
			if err != nil {
				return nil, err
			}
			if !h.IsZero() {
				r.keepFrom = h.Format(dataset.DateLayout)
			}
		}
		classes, err := r.writeDate(set, d, d >= r.keepFrom)
		if err != nil {
			return nil, err
		}
		if len(classes) > 0 {
			after[d] = classes
			newest = max(newest, r.newest([]string{d}))
		} else if len(r.ds.classes[d]) > 0 {
			if err := r.removeDate(set, d); err != nil {
				return nil, err
			}
		}
	}
	out.Touched = touched
	dates := sortedKeys(after)
	policyChanged := r.ds.Meta != nil && r.ds.Meta.PolicyDigest != r.meta.PolicyDigest
	from := r.evalFrom(touched, dates, policyChanged)
	var evalDates []string
	for _, d := range dates {
		if from != "" && d >= from {
			evalDates = append(evalDates, d)
		}
	}
	out.Evaluated = evalDates
	if len(evalDates) > 0 {
		if out.Stats, out.Rows, err = r.evaluate(ctx, set, touched, after, evalDates, policyChanged); err != nil {
			return nil, err
		}
	}
	// Exactly the evaluated dates' partitions: none for a date the run
	// did not evaluate (a run that reads only expired lines has a time
	// range, but touches no date).
	if err := set.CoverDates(evalDates); err != nil {
		return nil, err
	}
	if out.Expired, err = r.expire(set, dates); err != nil {
		return nil, err
	}
	if err := r.writeMeta(set); err != nil {
		return nil, err
	}
	m.Outputs = out.Rows
	if m.Outputs == nil {
		m.Outputs = map[string]int64{}
	}
	m.UnplannedKeys = out.Stats.UnplannedKeys
	m.Totals.Keys = int(out.Stats.Keys)
	if r.cfg.Finish != nil && r.evaluated != nil {
		if err := r.cfg.Finish(set, m, r.evaluated); err != nil {
			return nil, err
		}
	}
	changes, err := set.Stage()
	if err != nil {
		return nil, err
	}
	m.PartitionDates = rewrittenDates(changes, evalDates)
	m.PartialDates, m.UntouchedGaps = []string{}, []schema.DateGap{}
	m.Dataset = &schema.DatasetRun{
		Touched: orEmpty(out.Touched), Evaluated: orEmpty(evalDates), Expired: orEmpty(out.Expired),
		Skipped: []schema.SkippedPath{}, Grown: []string{}, Forgotten: orEmpty(r.forgotten),
		Dates: len(dates) - len(out.Expired), Inputs: r.inputsAfter,
	}
	for _, s := range r.Skipped() {
		m.Dataset.Skipped = append(m.Dataset.Skipped, schema.SkippedPath{Path: s.Path, Reason: s.Kind})
	}
	for _, g := range r.Grown() {
		m.Dataset.Grown = append(m.Dataset.Grown, g.Path)
	}
	return out, set.Commit(ctx, m)
}

// touchedDates are the UTC dates with requests read or taken back.
func (r *Run) touchedDates() []string {
	var ds []string
	for _, res := range []*pipeline.Result{r.plus, r.minus} {
		if res == nil {
			continue
		}
		for _, f := range res.Files {
			for _, d := range f.Dates {
				if !slices.Contains(ds, d.Date) {
					ds = append(ds, d.Date)
				}
			}
		}
	}
	slices.Sort(ds)
	return ds
}

// writeDate stages date d's partials, class by class, unless store is
// false, and returns the classes it has requests in (stored numbering).
func (r *Run) writeDate(set *report.Set, d string, store bool) ([]aggregate.Class, error) {
	from := mustDate(d).UnixMilli()
	to := from + 24*time.Hour.Milliseconds()
	parts := map[aggregate.Class][]aggregate.Partials{}
	for _, k := range r.ds.classes[d] {
		parts[k] = append(parts[k], storedFile{path: r.abs(partialsPath(d, k))})
	}
	for _, c := range classesOf(r.plus) {
		k := r.toStored(c.Class)
		parts[k] = append(parts[k], onDate{c.Partials, from, to})
	}
	minus := map[aggregate.Class]aggregate.Partials{}
	for _, c := range classesOf(r.minus) {
		minus[r.toStored(c.Class)] = onDate{c.Partials, from, to}
	}
	var written []aggregate.Class
	for _, k := range sortedKeys(parts) {
		cur, err := difference{sum(parts[k]), minus[k]}.Open()
		if err != nil {
			return nil, err
		}
		pc, empty, err := peek(cur)
		if err == nil && !empty {
			if store {
				err = r.writePartials(set, d, k, pc)
			}
			written = append(written, k)
		}
		pc.Close()
		if err != nil {
			return nil, fmt.Errorf("partials of %s: %w", d, err)
		}
	}
	return written, nil
}

func (r *Run) writePartials(set *report.Set, d string, k aggregate.Class, c aggregate.Cursor) error {
	w, err := set.Create(partialsPath(d, k))
	if err != nil {
		return err
	}
	// No policy digest: partials do not depend on the policy.
	meta := map[string]string{schema.MetaKeyDisplay: strings.SplitN(r.cfg.KeyDisplay, ":", 2)[0]}
	if _, err := aggregate.WriteParquet(w, c, r.className(k), meta); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// className is the canonical name of stored class k: its filters joined
// by " & " ("" for none).
func (r *Run) className(k aggregate.Class) string {
	var names []string
	for i, f := range r.filters {
		if k.Has(i) {
			names = append(names, f)
		}
	}
	slices.Sort(names)
	return strings.Join(names, " & ")
}

func (r *Run) removeDate(set *report.Set, d string) error {
	for _, rel := range []string{dataset.PartialDir(d), dataset.CheckpointFile(d)} {
		if err := set.Remove(rel); err != nil {
			return err
		}
	}
	for _, t := range schema.Tables {
		if !t.Flat() {
			if err := set.Remove(t.Name + "/date=" + d); err != nil {
				return err
			}
		}
	}
	return nil
}

// evalFrom is the first date to evaluate again: the first touched date,
// or the last stored date before it (whose checkpoint holds the state
// at the touched date's start); every date when the policy changed.
func (r *Run) evalFrom(touched, dates []string, policyChanged bool) string {
	if policyChanged || len(touched) == 0 && r.ds.Meta == nil {
		if len(dates) > 0 {
			return dates[0]
		}
		return ""
	}
	if len(touched) == 0 {
		return ""
	}
	from := touched[0]
	for _, d := range r.ds.dates {
		if d <= touched[0] {
			from = d
		}
	}
	return from
}

// evaluate evaluates the policy over evalDates (consecutive dates with
// partials, from a checkpoint), staging every table's partitions of those
// dates and their checkpoints.
func (r *Run) evaluate(ctx context.Context, set *report.Set, touched []string, after map[string][]aggregate.Class, evalDates []string, policyChanged bool) (policy.Stats, map[string]int64, error) {
	var in policy.Inputs
	byClass := map[aggregate.Class][]aggregate.Partials{}
	for _, d := range evalDates {
		if slices.Contains(touched, d) {
			continue
		}
		for _, k := range after[d] {
			byClass[k] = append(byClass[k], storedFile{path: r.abs(partialsPath(d, k))})
		}
	}
	// The touched dates' new partials: what was stored plus and minus
	// this run's (which have requests on touched dates only).
	for _, d := range touched {
		for _, k := range r.ds.classes[d] {
			byClass[k] = append(byClass[k], storedFile{path: r.abs(partialsPath(d, k))})
		}
	}
	minus := map[aggregate.Class]aggregate.Partials{}
	for _, c := range classesOf(r.plus) {
		k := r.toStored(c.Class)
		byClass[k] = append(byClass[k], c.Partials)
	}
	for _, c := range classesOf(r.minus) {
		minus[r.toStored(c.Class)] = c.Partials
	}
	for _, k := range sortedKeys(byClass) {
		in.Classes = append(in.Classes, aggregate.ClassPartials{Class: r.fromStored(k), Partials: difference{sum(byClass[k]), minus[k]}})
	}
	opts := policy.Options{Split: true, KeyMap: r.cfg.PolicyKeyMap}
	if !policyChanged {
		start, err := r.startStates(evalDates[0])
		if err != nil {
			return policy.Stats{}, nil, err
		}
		if start != nil {
			opts.Start = start
		}
	}
	var files []io.WriteCloser
	sf := &policy.StateFiles{Open: func(d time.Time) (io.Writer, error) {
		w, err := set.Create(dataset.CheckpointFile(d.Format(time.DateOnly)))
		if err != nil {
			// A file that could not be created (a full disk) is not one
			// to close.
			return nil, err
		}
		files = append(files, w)
		return w, nil
	}}
	opts.Checkpoints = sf
	for _, d := range evalDates {
		if d < r.keepFrom {
			continue // expired in this commit
		}
		opts.CheckpointDates = append(opts.CheckpointDates, mustDate(d))
	}
	tables, err := report.NewTables(set)
	if err != nil {
		return policy.Stats{}, nil, err
	}
	if err := tables.Limits(policy.LimitRows(r.cfg.Policy)); err != nil {
		return policy.Stats{}, nil, err
	}
	var sink policy.Sink = tables
	if r.cfg.Observe != nil {
		sink = r.cfg.Observe(tables)
	}
	r.evaluated = aggregate.ClassUnion(in.Classes, nil)
	stats, err := policy.Evaluate(ctx, in, r.cfg.Policy, opts, sink)
	if err == nil {
		err = sf.Close()
	}
	for _, f := range files {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return stats, nil, err
	}
	return stats, tables.Rows(), nil
}

// startStates reads the checkpoint at date d's start, nil when there is
// none (d is the dataset's first date).
func (r *Run) startStates(d string) (policy.StateCursor, error) {
	if !slices.Contains(r.ds.dates, d) {
		return nil, nil
	}
	b, err := os.ReadFile(r.abs(dataset.CheckpointFile(d)))
	if err != nil {
		return nil, err
	}
	c, err := policy.ReadStates(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.abs(dataset.CheckpointFile(d)), err)
	}
	return c, nil
}

// newest is the newest of dates (sorted) that retention may count back
// from: none after tomorrow (UTC). One line stamped in the future (a
// broken clock, year 9998) would otherwise move the horizon there, and
// every later night's lines would be dropped as too old. "" for none.
func (r *Run) newest(dates []string) string {
	limit := r.cfg.Now().UTC().AddDate(0, 0, 1).Format(dataset.DateLayout)
	i, _ := slices.BinarySearch(dates, limit+"\x00")
	if i == 0 {
		return ""
	}
	return dates[i-1]
}

// expire removes the partials and checkpoints of dates older than the
// retention allows, counted back from the newest date with partials.
func (r *Run) expire(set *report.Set, dates []string) ([]string, error) {
	newest := r.newest(dates)
	if newest == "" {
		return nil, nil
	}
	h, err := dataset.Horizon(newest, r.cfg.RetainDays)
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, d := range dates {
		if d >= h.Format(dataset.DateLayout) {
			break
		}
		// A date this run read but did not store (Write) has nothing
		// to remove.
		if slices.Contains(r.ds.dates, d) {
			for _, rel := range []string{dataset.PartialDir(d), dataset.CheckpointFile(d)} {
				if err := set.Remove(rel); err != nil {
					return nil, err
				}
			}
		}
		gone = append(gone, d)
	}
	return gone, nil
}

// writeMeta stages dataset.json and the ledger with this run's inputs.
func (r *Run) writeMeta(set *report.Set) error {
	ledger := r.ds.Ledger
	now := r.cfg.Now().UTC().Truncate(time.Second)
	// The entries grown inputs replace, noted before the ledger changes
	// (plans point into it).
	replaces := make([]string, len(r.plans))
	for i, p := range r.plans {
		if p.kind == kindGrown {
			replaces[i] = p.of.ID
		}
	}
	for i, f := range r.plus.Files {
		e := dataset.Entry{ID: f.Hash, Length: f.Length, Head: f.Head, Path: f.Path, Compression: f.Compression,
			Bytes: f.Bytes, Lines: f.Lines, Parsed: f.Parsed, Malformed: f.Malformed, Keyless: f.Keyless,
			Expired: f.Expired, ReadAt: now}
		for _, d := range f.Dates {
			e.Dates = append(e.Dates, dataset.DateCount{Date: d.Date, Lines: d.Lines})
		}
		if f.Parsed > 0 {
			e.First, e.Last = aggregate.Millis(f.MinTime), aggregate.Millis(f.MaxTime)
		}
		var err error
		if old := replaces[r.planIndex(i)]; old != "" {
			err = ledger.Replace(old, e)
		} else {
			err = ledger.Add(e)
		}
		if err != nil {
			return err
		}
	}
	for _, id := range r.forgotten {
		ledger.Remove(id)
	}
	r.inputsAfter = len(ledger.Entries)
	return r.ds.Save(set, r.meta)
}

func (r *Run) abs(rel string) string { return filepath.Join(r.ds.dir, filepath.FromSlash(rel)) }

// classesOf returns a result's classes (none for no result).
func classesOf(res *pipeline.Result) []aggregate.ClassPartials {
	if res == nil {
		return nil
	}
	return res.Classes
}

func sortedKeys[K interface{ ~string | ~uint64 }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rewrittenDates are the dates among evaluated whose table partitions a
// commit installs (a table's first partitions come with its directory).
func rewrittenDates(c report.Changes, evaluated []string) []string {
	ds := []string{}
	for _, d := range evaluated {
		for _, u := range c.Written {
			table, part, _ := strings.Cut(u, "/")
			if slices.ContainsFunc(schema.Tables, func(t schema.Table) bool { return t.Name == table && !t.Flat() }) &&
				(part == "" || part == "date="+d) {
				ds = append(ds, d)
				break
			}
		}
	}
	return ds
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func mustDate(d string) time.Time {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		panic("job: not a date: " + d) // dates come from the dataset's own names, checked when read
	}
	return t
}
