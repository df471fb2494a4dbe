package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
)

// Set is the group of files one run writes into one directory: tables,
// the manifest, and (through Create, WriteFile and Remove) any other file
// of a dataset. Nothing is visible under a final name until Commit, which
// installs the whole set in one journaled commit (see journal.go): a
// failed, interrupted or killed run leaves the directory entirely as the
// last committed run left it, or entirely as this one leaves it.
//
// With day partitions (WithPartition) each table is a directory of
// Hive-style partitions, NAME/date=YYYY-MM-DD/part-0.*. A commit replaces
// exactly the partitions the set wrote, each one atomically (a reader
// sees the old or the new partition, never a mix), leaves the others
// alone, and does not touch a partition whose new files are byte for
// byte the installed ones.
type Set struct {
	dir            string
	formats        []Format
	opts           options
	parquetOptions []parquet.WriterOption
	tables         []finisher
	// mu guards the staging directory's creation and the lists below,
	// which the tables' writer goroutines add to as they start files,
	// and the fs calls that start them, so that an FS need not be safe
	// for concurrent use. Stage and Commit read them once the
	// goroutines are done.
	mu       sync.Mutex
	run      string // the run's staging directory, once made
	dirs     map[string]bool
	pending  []*pendingFile
	files    map[string]bool // the rel paths of pending
	removes  []string
	manifest *pendingFile
	covered  bool
	gaps     []schema.DateGap
	fs       FS
	// staged is set by Stage: ops and changes are then the commit's.
	staged  bool
	ops     []op
	changes Changes
	// madeMeta says the commit made the metadata directory, for its
	// journal alone: it goes again when empty.
	madeMeta bool
	// over is set once the set committed, or failed after its commit
	// point: Abort then leaves the directory alone.
	over bool
	// escapedKeys is set once a table wrote a key escaped, in which case
	// no Parquet file of the set declares a sort order.
	escapedKeys atomic.Bool
}

type options struct {
	version      string
	policyDigest string
	keys         *KeyDisplay
	keysShown    bool
	csvRaw       bool
	partition    Partition
	first, last  time.Time        // the input's time range; zero when unknown
	started      time.Time        // the run's start; zero when not given
	now          func() time.Time // the clock for the wall time
	// roomyParts is how many partitions of a table are encoded as rows
	// come. A Parquet writer holds ~90 KB of buffers and dictionaries
	// before its first row, and a partitioned table's rows come in key
	// order, every key across its dates, so every partition's writer
	// stays open until the commit: a year's backfill held over a
	// thousand, hundreds of MiB. The first roomyParts partitions of a
	// table (a night's one or two dates) are encoded as rows come; the
	// rows of the others are spooled to disk and encoded at the commit,
	// one partition at a time. Tests lower it.
	roomyParts int
	// beforeCommitPoint and afterCommitPoint, if set, run just before
	// and after the journal's rename: tests kill a process there.
	beforeCommitPoint, afterCommitPoint func()
}

const defaultRoomyParts = 4

// Option configures a Set.
type Option func(*options)

// WithVersion records the keyrate version in every Parquet file.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithPolicyDigest records a digest of the limits or policy the reports
// were computed under in every Parquet file, so a warehouse can tell rows
// computed under different policies apart.
func WithPolicyDigest(d string) Option { return func(o *options) { o.policyDigest = d } }

// WithKeyDisplay writes the key column through d (nil: raw keys).
//
// Rows come in the raw keys' order (their tables' SortOrder). With raw
// keys the files declare that order and Write fails on a row out of it,
// so the declaration is never false, unless a key is written escaped
// (invalid UTF-8, a backslash: see validUTF8), which need not keep the
// order: then no Parquet file of the set declares it. A display that
// hides keys (digests, prefixes) does not keep it either: the files then
// declare no sort order and Write checks none.
func WithKeyDisplay(d *KeyDisplay) Option { return func(o *options) { o.keys = d } }

// WithRunStart says the run began at started: Commit then records in the
// manifest the wall time since and the process's peak resident memory.
// It takes them once every table is encoded (Parquet compresses its last
// row groups then, often the run's memory peak), just before it encodes
// the manifest.
func WithRunStart(started time.Time) Option { return func(o *options) { o.started = started } }

// WithShownKeys says the keys in rows are displayed already (a dataset
// stores displayed keys, see KeyDisplay.Map): they are written as they
// are, in their order, which every file then declares.
func WithShownKeys() Option { return func(o *options) { o.keysShown = true } }

// WithCSVRaw turns off CSV formula-injection protection.
func WithCSVRaw(raw bool) Option { return func(o *options) { o.csvRaw = raw } }

// WithPartition partitions every table by p. first and last bound the
// times of the input's lines (zero when no line parsed); dates they cover
// only in part are reported by Dates.
func WithPartition(p Partition, first, last time.Time) Option {
	return func(o *options) { o.partition, o.first, o.last = p, first.UTC(), last.UTC() }
}

// Partition is an output partitioning scheme.
type Partition string

const (
	NoPartition  Partition = ""
	PartitionDay Partition = "day"
)

// ParsePartition reads a partitioning scheme's name: "day" or "none" (or
// empty). The error names s, not where it came from: the caller adds that.
func ParsePartition(s string) (Partition, error) {
	switch s {
	case "", "none":
		return NoPartition, nil
	case "day":
		return PartitionDay, nil
	}
	return "", fmt.Errorf("%q: want day or none", s)
}

// rowGroupRows bounds the rows of a Parquet row group. It is DuckDB's own
// row group size: large enough for good compression and statistics, small
// enough that engines read a file in parallel, one row group per thread,
// and that a writer buffers a few MiB per open file (a month of day
// partitions keeps ~30 files of each table open at once).
const rowGroupRows = 122_880

// dictionaryMaxBytes bounds a column chunk's dictionary: low-cardinality
// strings (limit names, keys of the windows table) get a dictionary
// page; a column of mostly distinct values falls back to plain encoding
// when its dictionary outgrows this. The key columns of the keys,
// throttle_audit and usage tables, distinct by construction but for a
// key's few limits, are plain from the start (their `plain` tags): a
// dictionary there only costs a map insert per row and a copy of every
// key.
const dictionaryMaxBytes = 1 << 20

// parquetZstd is shared by every Set, so its pooled encoders are reused
// from run to run in a process that writes many sets (tests, a library
// user).
var parquetZstd zstdCodec

// NewSet prepares writing into dir, creating it if needed.
func NewSet(dir string, formats []Format, opts ...Option) (*Set, error) {
	return NewSetFS(dir, formats, OSFS{}, opts...)
}

// NewSetFS is NewSet working through fsys, the seam that fault tests
// use to make writes, syncs and renames fail.
func NewSetFS(dir string, formats []Format, fsys FS, opts ...Option) (*Set, error) {
	s := &Set{dir: dir, formats: formats, fs: &serialFS{fs: fsys}}
	s.opts.roomyParts = defaultRoomyParts
	s.opts.now = time.Now
	for _, o := range opts {
		o(&s.opts)
	}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s.parquetOptions = []parquet.WriterOption{
		parquet.Compression(&parquetZstd),
		parquet.CreatedBy("keyrate", s.opts.version, ""),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.DataPageStatistics(true),
		// Version 1 data pages: every engine and warehouse loader reads
		// them; some older ones fail on version 2.
		parquet.DataPageVersion(1),
		parquet.KeyValueMetadata(schema.MetaSchemaVersion, schema.Version),
		parquet.KeyValueMetadata(schema.MetaKeyDisplay, string(s.opts.keys.Mode())),
	}
	if s.opts.version != "" {
		s.parquetOptions = append(s.parquetOptions, parquet.KeyValueMetadata(schema.MetaVersion, s.opts.version))
	}
	if s.opts.policyDigest != "" {
		s.parquetOptions = append(s.parquetOptions, parquet.KeyValueMetadata(schema.MetaPolicyDigest, s.opts.policyDigest))
	}
	return s, nil
}

// Dates reports, with day partitions, the dates whose partitions this run
// writes and those among them the input covers only in part: its time
// range starts after the date's first second or ends before its last, or
// a row lies outside the range altogether (a window that began before
// the input did). Call it after the last row is written; it adds the
// (empty) partitions of dates in the input's range that a table has no
// rows for, so that a re-run replaces stale rows there. Without
// partitions it returns nothing.
func (s *Set) Dates() (dates, partial []string, err error) {
	if s.opts.partition == NoPartition {
		return nil, nil, nil
	}
	if err := s.flush(); err != nil {
		return nil, nil, err
	}
	first, last, known := s.rangeDays()
	if !s.covered {
		var withRows []string
		for _, t := range s.tables {
			withRows = append(withRows, t.dates()...)
		}
		var cover []string
		if known {
			cover, s.gaps = coverable(first, last, withRows)
		}
		for _, t := range s.tables {
			if err := t.cover(cover); err != nil {
				return nil, nil, err
			}
		}
		s.covered = true
	}
	for _, t := range s.tables {
		for _, d := range t.dates() {
			if !slices.Contains(dates, d) {
				dates = append(dates, d)
			}
		}
	}
	slices.Sort(dates)
	for _, d := range dates {
		day, _ := time.Parse(time.DateOnly, d)
		if in := known && unixDay(day) >= first && unixDay(day) <= last; !in || !s.coversWhole(day) {
			partial = append(partial, d)
		}
	}
	return dates, partial, nil
}

// CoverDates is Dates for a dataset's run, which knows the dates it
// writes: every partitioned table gets a partition for each of dates,
// empty where it has no rows, and none for another date (a row there is
// an error). Call it after the last row is written, instead of Dates.
func (s *Set) CoverDates(dates []string) error {
	if err := s.flush(); err != nil {
		return err
	}
	for _, t := range s.tables {
		for _, d := range t.dates() {
			if !slices.Contains(dates, d) {
				name, _ := t.identity()
				return fmt.Errorf("%s: a row on %s, not among the dates evaluated; this is a bug in keyrate, please report it", name, d)
			}
		}
		if err := t.cover(dates); err != nil {
			return err
		}
	}
	s.covered = true
	return nil
}

// maxCoverGap is the longest run of dates without a row, inside the
// input's range, whose partitions a run still replaces with empty ones.
// A longer one is taken for a line with a wrong time (an epoch-zero
// stamp, a broken clock), not for a quiet service: covering it would
// replace every partition between that line and the rest of the night,
// months or decades of other runs' rows, with empty ones.
const maxCoverGap = 7

// coverable returns the dates from day first to day last (days since
// 1970) whose partitions a run replaces: those with rows and those in a
// run of at most maxCoverGap dates without rows; and the longer runs it
// leaves. The first and last dates, where the input's first and last
// lines fall, bound the runs like dates with rows. Its cost follows the
// dates with rows, not the range's length: one line stamped in year 1
// and the others today is two points, not 740,000 dates.
func coverable(first, last int64, withRows []string) (cover []string, gaps []schema.DateGap) {
	points := []int64{first, last}
	for _, d := range withRows {
		t, err := time.Parse(time.DateOnly, d)
		if day := unixDay(t); err == nil && day > first && day < last {
			points = append(points, day)
		}
	}
	slices.Sort(points)
	points = slices.Compact(points)
	date := func(day int64) string { return time.Unix(day*secondsPerDay, 0).UTC().Format(time.DateOnly) }
	for i, p := range points {
		if i > 0 {
			prev := points[i-1]
			switch gap := p - prev - 1; {
			case gap > maxCoverGap:
				gaps = append(gaps, schema.DateGap{From: date(prev + 1), To: date(p - 1)})
			case gap > 0:
				for d := prev + 1; d < p; d++ {
					cover = append(cover, date(d))
				}
			}
		}
		cover = append(cover, date(p))
	}
	return cover, gaps
}

// Gaps reports the runs of dates in the input's range that Dates left
// untouched (see maxCoverGap); call it after Dates.
func (s *Set) Gaps() []schema.DateGap { return s.gaps }

// rangeDays is the input's time range as UTC days since 1970. It is
// unknown only when no line parsed (both ends zero): a single line
// stamped with Go's zero time (01/Jan/0001) is a range like any other,
// and taking it for none left the other dates of the night uncovered,
// their stale rows in place (issue 20, item 7).
func (s *Set) rangeDays() (first, last int64, known bool) {
	f, l := s.opts.first, s.opts.last
	if (f.IsZero() && l.IsZero()) || l.Before(f) {
		return 0, 0, false
	}
	return unixDay(f), unixDay(l), true
}

// coversWhole reports whether the input's time range spans all of the
// date starting at start. Most logs have whole-second times, so a line in
// its first second and one in its last second count as covering it.
func (s *Set) coversWhole(start time.Time) bool {
	return s.opts.first.Before(start.Add(time.Second)) &&
		!s.opts.last.Before(start.Add(24*time.Hour-time.Second))
}

// Commit finishes every table, writes m (if not nil) as manifest.json,
// with its late figures (see WithRunStart), and installs the set in one
// journaled commit: the set's files and partitions replace the installed
// ones (those byte-identical to them excepted), the paths given to Remove
// go, and so does a previous run's file of a table in a format this set
// does not write (windows.parquet after --output csv), so the directory
// never holds a mix of two runs' reports. The manifest is installed
// last.
//
// Up to the commit point (the journal's rename) an error leaves the
// directory as it was, and so does a done ctx: encoding and syncing a
// large set takes a while, and a stopped run must leave the previous
// reports. After it, Commit completes; should a change then fail, the
// changes made are rolled back and the error returned, or, if that fails
// too, an *IncompleteCommitError says that the journal stays for the next
// run's Recover to complete.
func (s *Set) Commit(ctx context.Context, m *schema.Manifest) error {
	if s.over {
		return errors.New("report: the set was committed already")
	}
	err := s.commit(ctx, m)
	var incomplete *IncompleteCommitError
	if err != nil && !errors.As(err, &incomplete) && !s.over {
		s.Abort()
		return err
	}
	s.over = true
	return err
}

func (s *Set) commit(ctx context.Context, m *schema.Manifest) error {
	if _, err := s.Stage(); err != nil {
		return err
	}
	if m != nil {
		if err := s.stageManifest(m); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // the last moment to stop with nothing changed
	}
	return s.install()
}

// stageManifest writes m as the set's manifest, to be installed last.
func (s *Set) stageManifest(m *schema.Manifest) error {
	if !s.opts.started.IsZero() {
		m.WallSeconds = s.opts.now().Sub(s.opts.started).Seconds()
		m.PeakRSSBytes = peakRSSBytes()
	}
	pf, err := s.create(manifestName)
	if err != nil {
		return err
	}
	s.manifest = pf
	enc := json.NewEncoder(pf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("%s: %w", manifestName, err)
	}
	if err := pf.finish(); err != nil {
		return err
	}
	ops, _, err := s.plan([]*pendingFile{pf}, nil)
	if err != nil {
		return err
	}
	s.ops = append(s.ops, ops...)
	return nil
}

// Abort removes everything the set staged and leaves the directory as it
// was. It does nothing after Commit. It first waits for the tables'
// writer goroutines, so that none writes into a file being removed, and
// none outlives the set.
func (s *Set) Abort() {
	if s.over {
		return
	}
	s.over = true
	for _, t := range s.tables {
		t.wait()
		t.discard()
	}
	for _, pf := range s.pending {
		pf.discard()
	}
	s.removeStaging()
}

// removeStaging removes the run's staging directory, the staging
// directory itself when no other run's is left in it, and the metadata
// directory if the commit made it for its journal alone.
func (s *Set) removeStaging() {
	if s.run != "" {
		s.fs.RemoveAll(s.run)
		s.fs.Remove(filepath.Dir(s.run)) // fails, harmlessly, unless empty
	}
	if s.madeMeta {
		removeIfEmpty(s.fs, filepath.Join(s.dir, MetaDir))
	}
}

// retireOtherFormats removes, in the commit, the report files a previous
// run left in the set's directory that this set does not replace: each
// table's NAME.csv or NAME.parquet in a format not written now, and both
// when the table is now a directory of partitions.
func (s *Set) retireOtherFormats() []string {
	var rels []string
	for _, t := range s.tables {
		name, flat := t.identity()
		for _, f := range []Format{CSV, Parquet} {
			if flat && slices.Contains(s.formats, f) {
				continue
			}
			rels = append(rels, name+"."+string(f))
		}
	}
	return rels
}

// flush has every table write the rows given to it so far, so that the
// tables' state and the set's files are the caller's to read.
// flush and finish run on every table at once: each table writes only
// its own files, and Parquet encodes its buffered row group when it
// closes, the bulk of a commit.
func (s *Set) flush() error { return inParallel(s.tables, finisher.flush) }

// inParallel runs fn on every item at once and returns the first item's
// error in the items' order, so that the error reported does not depend
// on timing.
func inParallel[T any](items []T, fn func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = fn(it) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
