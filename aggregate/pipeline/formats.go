package pipeline

// Format selection and the per-record bookkeeping shared by line inputs
// and columnar (Parquet) inputs.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

// chooseFormat picks the file's parser: a fixed --format, or one detected
// from the first lines; columnar reports a Parquet file instead. Detection
// runs once per file, whatever the file is then split into. It returns a
// parser factory: blocks of a stateless format each get their own parser.
func (r *aggregator) chooseFormat(in *input.Input, lines input.Peeker, st *FileStats) (func() parse.LineParser, bool, error) {
	// Whatever the format, an archive of logs is not one log. (A stream
	// failing from its start is reported by detection or the first block.)
	if head, _, _ := lines.Peek(parse.DetectBytes); parse.IsTar(head) {
		return nil, false, &InputError{Path: in.Name, Stdin: in.Name == "<stdin>", Err: parse.ErrTarArchive}
	}
	format := r.cfg.Format
	if format == "" {
		if r.cfg.NewParser != nil {
			return r.cfg.NewParser, false, nil
		}
		format = parse.FormatAuto
	}
	switch format {
	case parse.FormatParquet:
		return nil, true, r.columnarOK(in)
	case parse.FormatAuto:
		head, atEOF, err := lines.Peek(parse.DetectBytes)
		if err != nil && len(head) == 0 {
			return nil, false, err // nothing readable to detect from
		}
		if parse.IsParquet(head) {
			return nil, true, r.columnarOK(in)
		}
		if atEOF && len(bytes.Trim(head, "\x00 \t\r\n\v\f")) == 0 { // blank, or only a hole
			st.Format = "empty"
			return func() parse.LineParser { return parse.Combined{} }, false, nil
		}
		f, err := r.detector.Detect(head, atEOF, r.cfg.FormatOptions)
		var ue *parse.UndetectedError
		if errors.As(err, &ue) {
			ue.HideLine = r.cfg.HideLineText
		}
		if err != nil {
			return nil, false, explainUndetected(in, &InputError{Path: in.Name, Stdin: in.Name == "<stdin>", Err: err})
		}
		st.Format = f.Name
		return f.New, false, nil
	}
	st.Format = r.comp.format.Name
	return r.comp.format.New, false, nil
}

// InputError is an input that cannot be read as a log at all: no format
// matches its first lines (a *parse.UndetectedError), or it is a tar
// archive (parse.ErrTarArchive). Not a corrupt input: never skipped.
type InputError struct {
	Path  string // as given, or "<stdin>"
	Stdin bool   // standard input, which no path names
	Err   error
}

func (e *InputError) Error() string { return input.QuotePath(e.Path) + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// explainUndetected returns, for a compressed input whose first lines no
// format matches, the corruption that explains it, if the stream turns
// out corrupt further on, and err otherwise. A bzip2 block's text (up to
// 900 kB) comes out before its checksum is checked, so a damaged first
// block reaches detection as junk; reported as a corrupt input, it is
// what --skip-corrupt can skip, not an unknown format.
func explainUndetected(in *input.Input, err error) error {
	if in.Compression == input.Plain {
		return err
	}
	var re *input.ReadError
	if _, derr := io.Copy(io.Discard, in); errors.As(derr, &re) {
		return derr
	}
	return err
}

func (r *aggregator) columnarOK(in *input.Input) error {
	switch {
	case r.cfg.OpenColumnar == nil:
		return fmt.Errorf("%s: Parquet input is not supported here", input.QuotePath(in.Name))
	case in.Size < 0:
		return fmt.Errorf("%s: Parquet needs a seekable file, not a stream", input.QuotePath(in.Name))
	case in.Compression != input.Plain:
		return fmt.Errorf("%s: Parquet files compress internally; decompress the %s wrapper first", input.QuotePath(in.Name), in.Compression)
	}
	return nil
}

// readColumnar reads a Parquet input through a parse.RecordSource.
func (r *aggregator) readColumnar(ctx context.Context, path string, st *FileStats) ([]Sample, error) {
	st.Format = parse.FormatParquet // detected, even if it cannot be opened
	src, err := r.cfg.OpenColumnar(path, r.cfg.FormatOptions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer src.Close()
	st.Format = src.Format()
	var samples []Sample
	for {
		if st.Lines&0xfff == 0 {
			r.newStream()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := r.maybeSpill(); err != nil {
				return nil, err
			}
		}
		err := src.Next(&r.rec)
		if err == io.EOF {
			break
		}
		if err == nil && !parse.TimeInRange(r.rec.TimeMillis) {
			err = &parse.SyntaxError{Msg: parse.ErrTimeOutOfRange.Error()}
		}
		if err != nil {
			var se *parse.SyntaxError
			if !errors.As(err, &se) {
				return nil, fmt.Errorf("%s: row %d: %w", path, src.Row(), err)
			}
			st.Lines++
			st.Malformed++
			if len(samples) < r.cfg.MaxSamples {
				samples = append(samples, Sample{File: path, Line: src.Row(), Reason: parse.Reason(err, !r.cfg.HideLineText)})
			}
			continue
		}
		st.Lines++
		r.observe(st)
	}
	if fi, err := os.Stat(path); err == nil {
		st.Bytes = fi.Size()
	}
	st.VerdictMissing = r.verdictMissing
	return samples, r.maybeSpill()
}

// hashFile records the identity of a Parquet input: of its file's bytes,
// read once more (from the page cache, at the hash's speed).
func hashFile(path string, st *FileStats) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := newContentHash()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	setIdentity(st, h.identity())
	return nil
}

// keyHintLines is how many keyless lines per block (or columnar file)
// are looked at for values that look like keys: enough to name the
// --key that would find them, at no cost to a well-configured run.
const keyHintLines = 16

// observe counts the parsed record r.rec into st and the state.
func (r *aggregator) observe(st *FileStats) {
	st.Parsed++
	ts := r.rec.TimeMillis
	st.MinTime, st.MaxTime = min(st.MinTime, ts), max(st.MaxTime, ts)
	if r.rec.SubSecond {
		st.TimePrecision = "ms"
	}
	if src := r.rec.TimeSource; src != nil {
		if src.Basis != parse.BasisArrival {
			st.TimeNotArrival++
			if src.Basis == parse.BasisLogged {
				st.TimeLogged++
			}
			if st.TimeAdvice == "" {
				st.TimeAdvice = src.Advice
			}
		}
		// Lines of an input almost always share their source: only a
		// change is looked up in the list.
		if src != r.timeSource || st.TimeSource == "" {
			r.timeSource = src
			st.TimeSource = addTimeSource(st.TimeSource, src.String())
		}
	}
	if ts < r.minTime {
		st.Expired++
		return
	}
	r.days.add(ts) // the dates a dataset's run touches: not an expired line's
	key := r.keys.Extract(&r.rec)
	if key == nil {
		if r.keys.Rejected() {
			st.InvalidKey++
		} else {
			st.Keyless++
		}
		if st.KeyHintLines < keyHintLines {
			st.KeyHintLines++
			parse.KeyHints(&r.rec, func(spec string) {
				if st.KeyHints == nil {
					st.KeyHints = map[string]int64{}
				}
				st.KeyHints[spec]++
			})
		}
		return
	}
	// A key that is not UTF-8 is aggregated as the bytes it is: the
	// reports escape it one-to-one (report.KeyDisplay), so two such keys
	// never merge into one, as they would if replaced by U+FFFD here.
	if !validUTF8(key) {
		st.InvalidUTF8++
	}
	r.obs = aggregate.Observation{TimeMillis: ts, Status: r.rec.Status, Bytes: r.rec.Bytes, Rejected: r.rejected()}
	if len(r.classes.filters) == 0 {
		r.state.Add(key, &r.obs)
		return
	}
	r.classes.add(key, &r.rec, &r.obs)
}

// validUTF8 is utf8.Valid for keys, which are almost always ASCII
// tokens of a few words: it ORs the key's bytes together 8 at a time
// (the last word overlapping the one before) and calls utf8.Valid only
// when a byte has its high bit set. utf8.Valid has the same ASCII
// fast path, but its set-up and byte-wise tail cost more than the check
// itself on a key this short.
func validUTF8(key []byte) bool {
	var or uint64
	if n := len(key); n >= 8 {
		for i := 0; i+8 <= n; i += 8 {
			or |= binary.LittleEndian.Uint64(key[i:])
		}
		or |= binary.LittleEndian.Uint64(key[n-8:])
	} else {
		for _, c := range key {
			or |= uint64(c)
		}
	}
	return or&0x8080808080808080 == 0 || utf8.Valid(key)
}

func parserName(p parse.LineParser) string {
	if s, ok := p.(fmt.Stringer); ok {
		return s.String()
	}
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", p), "parse."))
}
