package report

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
)

// Set is the group of files one run writes into one directory. Files
// become visible only at Commit, the manifest last, so a reader that sees
// the manifest's new version sees the tables it describes.
//
// With day partitions (WithPartition) each table is a directory of
// Hive-style partitions, NAME/date=YYYY-MM-DD/part-0.*. A run replaces
// exactly the partitions it covers, each one atomically (the partition is
// written aside, then swapped in by rename), and leaves the others alone.
type Set struct {
	dir            string
	formats        []Format
	opts           options
	parquetOptions []parquet.WriterOption
	tables         []finisher
	// mu guards pending and partitions, which the tables' writer
	// goroutines add to as they start files, and the fs calls that start
	// them, so that an FS need not be safe for concurrent use. Commit and
	// Abort read them once the goroutines are done.
	mu         sync.Mutex
	pending    []*pendingFile
	retired    []*retiredFile
	partitions []*partitionDir
	madeDirs   []string // table directories this set created
	manifest   *pendingFile
	covered    bool
	gaps       []schema.DateGap
	fs         FS
	committed  bool
	// escapedKeys is set once a table wrote a key escaped, in which case
	// no Parquet file of the set declares a sort order.
	escapedKeys atomic.Bool
}

type options struct {
	version      string
	policyDigest string
	keys         *KeyDisplay
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
// page; a column of mostly distinct values (keys of the keys table) falls
// back to plain encoding when its dictionary outgrows this.
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

// Commit finishes every table and writes m (if not nil) as manifest.json,
// with its late figures (see WithRunStart), syncs every file, then moves
// everything into place: each day partition is swapped in atomically,
// then the flat files are renamed in, the manifest last, each group's
// directory synced after its renames; a previous run's file of a table
// in a format this set does not write (windows.parquet after --output
// csv) goes too, so the directory never holds a mix of two runs'
// reports. On error, temporary files and partitions not yet swapped are
// removed and flat files already renamed or removed are rolled back to
// their previous versions; a partition already swapped stays new, so
// every partition is either wholly old or wholly new.
//
// Once ctx is done, Commit fails with its error up to the first rename:
// encoding and syncing a large set takes a while, and a stopped run must
// leave the previous reports. After that point it completes.
func (s *Set) Commit(ctx context.Context, m *schema.Manifest) error {
	if err := s.commit(ctx, m); err != nil {
		s.Abort()
		return err
	}
	s.committed = true
	for _, pf := range s.pending {
		pf.release()
	}
	for _, r := range s.retired {
		r.release()
	}
	s.removeStaging()
	return nil
}

func (s *Set) commit(ctx context.Context, m *schema.Manifest) error {
	if err := s.flush(); err != nil {
		return err
	}
	if _, _, err := s.Dates(); err != nil {
		return err
	}
	if err := inParallel(s.tables, finisher.finish); err != nil {
		return err
	}
	if m != nil {
		if !s.opts.started.IsZero() {
			m.WallSeconds = s.opts.now().Sub(s.opts.started).Seconds()
			m.PeakRSSBytes = peakRSSBytes()
		}
		pf, err := s.create(filepath.Join(s.dir, manifestName))
		if err != nil {
			return err
		}
		s.manifest = pf
		enc := json.NewEncoder(pf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("%s: %w", manifestName, err)
		}
	}
	// Each fsync waits for its own file's blocks: issued together they
	// overlap.
	if err := inParallel(s.pending, (*pendingFile).finish); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the last moment to stop with nothing moved
	}
	if err := s.retireOtherFormats(); err != nil {
		return err
	}
	// Files inside a partition's staging directory take their final names
	// there first; the directory then swaps in whole.
	inStaging := func(pf *pendingFile) bool {
		return strings.HasPrefix(pf.final, filepath.Join(s.dir, stagingDir)+string(filepath.Separator))
	}
	for _, pf := range s.pending {
		if inStaging(pf) {
			if err := pf.install(); err != nil {
				return err
			}
		}
	}
	slices.SortFunc(s.partitions, func(a, b *partitionDir) int { return strings.Compare(a.final, b.final) })
	for _, p := range s.partitions {
		if err := p.swap(); err != nil {
			return err
		}
	}
	for _, pf := range s.pending {
		if !inStaging(pf) && pf != s.manifest {
			if err := pf.install(); err != nil {
				return err
			}
		}
	}
	// A rename is durable only once its directory is synced. The tables'
	// renames (and retirements) are, before the manifest that says they
	// are complete is renamed in: after a crash, either the manifest's
	// temporary file is still there (Recover restores the previous set)
	// or every table file is the new one.
	if err := s.fs.SyncDir(s.dir); err != nil {
		return err
	}
	if s.manifest == nil {
		return nil
	}
	if err := s.manifest.install(); err != nil {
		return err
	}
	return s.fs.SyncDir(s.dir)
}

// Abort removes every temporary file and partition not yet swapped in and
// rolls back flat files already renamed into place. It does nothing after
// a successful Commit. It first waits for the tables' writer goroutines,
// so that none writes into a file being removed, and none outlives the
// set.
func (s *Set) Abort() {
	if s.committed {
		return
	}
	for _, t := range s.tables {
		t.wait()
		t.discard()
	}
	for i := len(s.pending) - 1; i >= 0; i-- {
		s.pending[i].rollback()
	}
	for _, r := range s.retired {
		r.rollback()
	}
	for _, p := range s.partitions {
		p.cleanup()
	}
	for _, d := range s.madeDirs {
		s.fs.Remove(d) // a table directory this set made, if no partition got in
	}
	s.removeStaging()
}

// retireOtherFormats moves aside, for rollback, the report files a
// previous run left in the set's directory that this set does not
// replace: each table's NAME.csv or NAME.parquet in a format not written
// now, and both when the table is now a directory of partitions.
func (s *Set) retireOtherFormats() error {
	for _, t := range s.tables {
		name, flat := t.identity()
		for _, f := range []Format{CSV, Parquet} {
			if flat && slices.Contains(s.formats, f) {
				continue
			}
			r := &retiredFile{fs: s.fs, final: filepath.Join(s.dir, name+"."+string(f))}
			s.retired = append(s.retired, r)
			if err := r.retire(); err != nil {
				return err
			}
		}
	}
	return nil
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

// create starts writing the set's file final.
func (s *Set) create(final string) (*pendingFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pf, err := createPending(s.fs, final)
	if err != nil {
		return nil, err
	}
	s.pending = append(s.pending, pf)
	return pf, nil
}
