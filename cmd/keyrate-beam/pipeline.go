package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/cmd/internal/analysis"
)

// The pipeline (docs: README "Beyond one machine"):
//
//	inputs (listed on the launcher)
//	  -> planFn: a file becomes byte ranges cut later at line starts
//	     (an uncompressed file), or one range (compressed, Parquet,
//	     headed, or in a dataset run)
//	  -> Reshuffle: ranges spread over workers
//	  -> readFn: each range read and aggregated with aggregate/pipeline,
//	     emitted as (class, day, key) -> encoded points, plus the range's
//	     statistics
//	  -> CombinePerKey(mergeFn): partials added up, lifted before the
//	     shuffle
//	  -> shards -> writeFn: combined partials written to --work-dir
//	  -> commitFn (once, on Impulse): the list of parts and the ranges'
//	     statistics, the only files the launcher reads
//
// The launcher then gathers the combined partials and writes the reports
// with the same code as keyrate analyze.

func init() {
	beam.RegisterType(reflect.TypeOf((*fileElem)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*rangeElem)(nil)).Elem())
	register.DoFn3x1[context.Context, fileElem, func(rangeElem), error](&planFn{})
	register.Emitter1[rangeElem]()
	register.DoFn4x1[context.Context, rangeElem, func(string, []byte), func(string), error](&readFn{})
	register.Emitter2[string, []byte]()
	register.Emitter1[string]()
	register.Combiner1[[]byte](&mergeFn{})
	register.DoFn2x2[string, []byte, int, []byte](&shardFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func(string), error](&writeFn{})
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(*string) bool, error](&commitFn{})
	register.Iter1[[]byte]()
	register.Iter1[string]()
}

// fileElem is one input: its index in the run's inputs, and its byte
// limit (a dataset reading again what it read of a grown file; -1: all).
type fileElem struct {
	Index int
	Path  string
	Limit int64
	Split bool
}

// rangeElem is a part of an input to read: the lines that start in
// [Start, End) of an uncompressed file, or the whole input (Whole).
type rangeElem struct {
	Index      int
	Path       string
	Start, End int64
	Whole      bool
	Limit      int64
}

// rangeResult is what reading a range found besides partials.
type rangeResult struct {
	Index   int
	Start   int64
	Stats   pipeline.FileStats
	Samples []pipeline.Sample
}

// planFn cuts an input into ranges of BlockBytes.
type planFn struct {
	BlockBytes int64
}

func (fn *planFn) ProcessElement(ctx context.Context, f fileElem, emit func(rangeElem)) error {
	whole := rangeElem{Index: f.Index, Path: f.Path, Whole: true, Limit: f.Limit}
	if !f.Split || f.Limit >= 0 {
		emit(whole)
		return nil
	}
	fsys, err := filesystem.New(ctx, f.Path)
	if err != nil {
		return err
	}
	defer fsys.Close()
	size, err := fsys.Size(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if size <= fn.BlockBytes {
		emit(whole)
		return nil
	}
	rc, err := fsys.OpenRead(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	var magic [4]byte
	n, _ := io.ReadFull(rc, magic[:])
	rc.Close()
	if !splittable(magic[:n]) {
		emit(whole)
		return nil
	}
	for start := int64(0); start < size; start += fn.BlockBytes {
		end := min(start+fn.BlockBytes, size)
		if size-end < fn.BlockBytes/4 {
			end = size // no tiny tail range
		}
		emit(rangeElem{Index: f.Index, Path: f.Path, Start: start, End: end, Limit: -1})
		if end == size {
			break
		}
	}
	return nil
}

// splittable reports whether a file starting with head can be read in
// ranges: not compressed (gzip, zstd, bzip2, xz: a range of a stream
// cannot be decoded alone), not Parquet, and not a format whose header
// line says what its columns are (W3C, CloudFront: "#Fields:"), which a
// later range would not see.
func splittable(head []byte) bool {
	for _, m := range []string{"\x1f\x8b", "\x28\xb5\x2f\xfd", "BZh", "\xfd7zX", "PAR1", "#", "\xef\xbb\xbf#"} {
		if strings.HasPrefix(string(head), m) {
			return false
		}
	}
	return true
}

// readFn reads a range with aggregate/pipeline, configured as the
// launcher was: by its own flags (Args, PolicyText standing for --policy).
type readFn struct {
	Args       []string
	PolicyText string
	MinTime    int64

	cfg pipeline.Config
}

func (fn *readFn) Setup() error {
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	var o analysis.Options
	o.Register(fs)
	o.Warehouse.Register(fs)
	if err := fs.Parse(fn.Args); err != nil {
		return err
	}
	if fn.PolicyText != "" {
		dir, err := os.MkdirTemp("", "keyrate-beam-policy")
		if err != nil {
			return err
		}
		o.Policy = filepath.Join(dir, "policy.toml")
		if err := os.WriteFile(o.Policy, []byte(fn.PolicyText), 0o600); err != nil {
			return err
		}
	}
	c, err := o.Validate([]string{"-"})
	if err != nil {
		return err
	}
	fn.cfg = c.Read
	fn.cfg.Workers = 1 // Beam runs bundles in parallel
	fn.cfg.MinTime = fn.MinTime
	fn.cfg.Stdin = nil
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, r rangeElem, emit func(string, []byte), done func(string)) error {
	cfg := fn.cfg
	path := r.Path
	var closer io.Closer
	if !r.Whole || strings.Contains(r.Path, "://") {
		// Read through Beam's filesystem, as standard input.
		fsys, err := filesystem.New(ctx, r.Path)
		if err != nil {
			return err
		}
		defer fsys.Close()
		rc, err := fsys.OpenRead(ctx, r.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Path, err)
		}
		closer = rc
		cfg.Stdin = rc
		if !r.Whole {
			if cfg.Stdin, err = lineRange(rc, r.Start, r.End); err != nil {
				rc.Close()
				return fmt.Errorf("%s: %w", r.Path, err)
			}
		}
		path = "-"
	}
	if r.Limit >= 0 {
		cfg.Limits = map[string]int64{path: r.Limit}
	}
	res, err := pipeline.Run(ctx, []string{path}, cfg)
	if closer != nil {
		closer.Close()
	}
	if err != nil {
		if path == "-" {
			return fmt.Errorf("%s: %w", r.Path, err)
		}
		return err
	}
	defer res.Close()
	for _, cp := range res.Classes {
		if err := emitClass(cp, emit); err != nil {
			return err
		}
	}
	st := res.Files[0]
	st.Path = r.Path
	out, err := json.Marshal(rangeResult{Index: r.Index, Start: r.Start, Stats: st, Samples: res.Samples})
	if err != nil {
		return err
	}
	done(string(out))
	return nil
}

// emitClass emits a class's partials cut by key and UTC day.
func emitClass(cp aggregate.ClassPartials, emit func(string, []byte)) error {
	cur, err := cp.Partials.Open()
	if err != nil {
		return err
	}
	defer cur.Close()
	var pts []aggregate.Point
	var buf []byte
	for {
		key, ps, err := cur.Next(pts[:0])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		pts = ps
		for len(ps) > 0 {
			day := dayOf(ps[0].TimeMillis)
			n := 1
			for n < len(ps) && dayOf(ps[n].TimeMillis) == day {
				n++
			}
			buf = encodePoints(buf[:0], ps[:n])
			emit(groupKey(cp.Class, day, key), slices.Clone(buf))
			ps = ps[n:]
		}
	}
}

// lineRange returns the lines of r (positioned at 0) whose first byte is
// in [start, end): a line that crosses end is read to its end.
func lineRange(r io.Reader, start, end int64) (io.Reader, error) {
	skip := start
	if start > 0 {
		skip = start - 1 // to see whether start begins a line
	}
	if s, ok := r.(io.Seeker); ok {
		if _, err := s.Seek(skip, io.SeekStart); err != nil {
			return nil, err
		}
	} else if _, err := io.CopyN(io.Discard, r, skip); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	pos := skip
	if start > 0 {
		// Skip the rest of the line holding start-1: it is the previous
		// range's.
		for {
			b, err := br.ReadByte()
			if err == io.EOF {
				return strings.NewReader(""), nil
			}
			if err != nil {
				return nil, err
			}
			pos++
			if b == '\n' {
				break
			}
		}
	}
	if pos >= end {
		return strings.NewReader(""), nil // the range holds no line start
	}
	return &rangeReader{br: br, left: end - pos}, nil
}

// rangeReader reads left bytes, then up to the end of the line they end
// in.
type rangeReader struct {
	br   *bufio.Reader
	left int64
	last byte
	done bool
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	if r.left > 0 {
		if int64(len(p)) > r.left {
			p = p[:r.left]
		}
		n, err := r.br.Read(p)
		r.left -= int64(n)
		if n > 0 {
			r.last = p[n-1]
		}
		if err == io.EOF || (r.left == 0 && r.last == '\n') {
			r.done = true
		}
		return n, err
	}
	// Finish the line that crosses the range's end (one line: bytewise).
	n := 0
	for n < len(p) {
		b, err := r.br.ReadByte()
		if err == io.EOF {
			r.done = true
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if err != nil {
			return n, err
		}
		p[n] = b
		n++
		if b == '\n' {
			r.done = true
			break
		}
	}
	return n, nil
}

// mergeFn adds up encoded partials of one group key.
type mergeFn struct{}

func (mergeFn) MergeAccumulators(a, b []byte) ([]byte, error) { return mergeEncoded(a, b) }

// shardOf spreads group keys over n part files.
func shardOf(gk string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(gk))
	return int(h.Sum32() % uint32(n))
}

// shardFn keys a combined partial by its part file.
type shardFn struct{ Shards int }

func (fn *shardFn) ProcessElement(gk string, v []byte) (int, []byte) {
	rec := binary.AppendUvarint(nil, uint64(len(gk)))
	rec = append(rec, gk...)
	rec = binary.AppendUvarint(rec, uint64(len(v)))
	return shardOf(gk, fn.Shards), append(rec, v...)
}

// writeFn writes a shard's records to a new file in WorkDir and emits its
// name; a retried bundle writes another file, and only the names that
// reach commitFn are read.
type writeFn struct{ WorkDir string }

func (fn *writeFn) ProcessElement(ctx context.Context, shard int, recs func(*[]byte) bool, emit func(string)) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := joinPath(fn.WorkDir, fmt.Sprintf("part-%04d-%s", shard, hex.EncodeToString(rnd[:])))
	fsys, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fsys.Close()
	w, err := fsys.OpenWrite(ctx, name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var rec []byte
	for recs(&rec) {
		if _, err := bw.Write(rec); err != nil {
			w.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	emit(name)
	return nil
}

// commitFn writes, once all parts are written, the list of parts and the
// ranges' results: the one file the launcher starts from.
type commitFn struct{ WorkDir string }

type commitRecord struct {
	Parts  []string
	Ranges []string
}

func (fn *commitFn) ProcessElement(ctx context.Context, _ []byte, parts func(*string) bool, ranges func(*string) bool) error {
	var c commitRecord
	var s string
	for parts(&s) {
		c.Parts = append(c.Parts, s)
	}
	for ranges(&s) {
		c.Ranges = append(c.Ranges, s)
	}
	slices.Sort(c.Parts)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	name := joinPath(fn.WorkDir, commitName)
	fsys, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fsys.Close()
	w, err := fsys.OpenWrite(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

const commitName = "commit.json"

// joinPath joins a directory (local, or a URL such as gs://b/d) and a
// name.
func joinPath(dir, name string) string {
	if strings.Contains(dir, "://") {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}
