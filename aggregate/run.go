package aggregate

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A run is a partial aggregate serialised in key order: what a worker
// spills when its State outgrows its memory share, and the unit a later
// stage can keep, ship between machines and merge by addition. The
// format, its byte layout and its versioning rule are documented in
// docs/partials.md; in short, a zstd stream of
//
//	header  "keyrate-run\x00v1\n" (15 bytes)
//	per key, in ascending byte order of keys:
//	  uvarint len(key)+1, key bytes,
//	  uvarint number of points (at least 1),
//	  per point, in ascending time: varint (ts - previous ts; first: ts),
//	    then 8 varints: Requests, Status2xx, Status3xx, Status4xx,
//	    Status5xx, Status429, Rejected, BytesSent
//	uvarint 0 (end), uvarint total keys, uvarint total points
//
// The trailer lets a reader tell a complete run from a truncated one.

// RunVersion is the version of the run format WriteRun writes and
// RunReader reads. Any change to the bytes after the header is a new
// version; a reader refuses versions it does not know (ErrRunVersion).
const RunVersion = 1

const (
	runMagic  = "keyrate-run\x00" // then "v", the version in decimal, "\n"
	runHeader = runMagic + "v1\n"
)

// maxRunVersionLen bounds the version field a reader accepts
// ("v" + up to 9 digits + "\n").
const maxRunVersionLen = 11

// encoders recycles run encoders: creating one allocates several
// megabytes, and a tight budget spills often.
var encoders sync.Pool

// Stats describes a written run.
type Stats struct {
	Keys, Points int64
}

// WriteRun writes the series c yields as a run to w (compressed), in
// c's order. It does not close c.
func WriteRun(w io.Writer, c Cursor) (Stats, error) {
	var st Stats
	enc, _ := encoders.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			return st, err
		}
	} else {
		enc.Reset(w)
	}
	defer encoders.Put(enc)
	fail := func(err error) (Stats, error) {
		enc.Close()
		return st, err
	}
	bw := bufio.NewWriterSize(enc, 64<<10)
	bw.WriteString(runHeader)
	var (
		buf    []byte
		points []Point
	)
	for {
		key, pts, err := c.Next(points[:0])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		points = pts
		if len(key) > MaxKeyBytes {
			return fail(fmt.Errorf("key of %d bytes: a run holds keys of at most %d", len(key), MaxKeyBytes))
		}
		buf = appendSeries(buf[:0], key, points)
		if _, err := bw.Write(buf); err != nil {
			return fail(err)
		}
		st.Keys++
		st.Points += int64(len(points))
	}
	buf = binary.AppendUvarint(buf[:0], 0)
	buf = binary.AppendUvarint(buf, uint64(st.Keys))
	buf = binary.AppendUvarint(buf, uint64(st.Points))
	bw.Write(buf)
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	return st, enc.Close()
}

// appendSeries appends the run encoding of one key's series to buf.
func appendSeries(buf []byte, key string, points []Point) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(key))+1)
	buf = append(buf, key...)
	buf = binary.AppendUvarint(buf, uint64(len(points)))
	var prev int64
	for i := range points {
		p := &points[i]
		buf = binary.AppendVarint(buf, p.TimeMillis-prev)
		prev = p.TimeMillis
		c := &p.Counters
		for _, v := range [...]int64{c.Requests, c.Status2xx, c.Status3xx, c.Status4xx,
			c.Status5xx, c.Status429, c.Rejected, c.BytesSent} {
			buf = binary.AppendVarint(buf, v)
		}
	}
	return buf
}

// RunReader reads a run back as a Cursor.
type RunReader struct {
	dec    *zstd.Decoder
	br     *bufio.Reader
	kbuf   []byte // the key being read
	key    string // the last key read
	keys   int64
	points int64
	done   bool
}

// ErrBadRun reports a run that is truncated, corrupt or not a run at all.
var ErrBadRun = errors.New("not a complete keyrate run")

// ErrRunVersion reports a run of a version this reader does not know,
// written by another keyrate: it is not read at all, rather than misread.
var ErrRunVersion = errors.New("unsupported keyrate run version")

// NewRunReader starts reading a run from r, checking its header. Close
// releases the decoder.
func NewRunReader(r io.Reader) (*RunReader, error) {
	dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return nil, err
	}
	rr := &RunReader{dec: dec, br: bufio.NewReaderSize(dec, 32<<10)}
	if err := rr.header(); err != nil {
		dec.Close()
		return nil, err
	}
	return rr, nil
}

// header reads the magic and the version.
func (r *RunReader) header() error {
	magic := make([]byte, len(runMagic))
	if _, err := io.ReadFull(r.br, magic); err != nil || string(magic) != runMagic {
		return fmt.Errorf("%w: bad header", ErrBadRun)
	}
	// A short run ends within the field: Peek then returns what there is.
	v, _ := r.br.Peek(maxRunVersionLen)
	end := bytes.IndexByte(v, '\n')
	if end < 2 || v[0] != 'v' || strings.Trim(string(v[1:end]), "0123456789") != "" {
		return fmt.Errorf("%w: bad header", ErrBadRun)
	}
	if version := string(v[1:end]); version != strconv.Itoa(RunVersion) {
		return fmt.Errorf("%w %s (this keyrate reads version %d)", ErrRunVersion, version, RunVersion)
	}
	_, err := r.br.Discard(end + 1)
	return err
}

// Close implements Cursor: it releases the decoder (not the reader the
// run is read from).
func (r *RunReader) Close() { r.dec.Close() }

func (r *RunReader) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(r.br)
	if err != nil {
		return 0, r.bad(err)
	}
	return v, nil
}

func (r *RunReader) bad(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", ErrBadRun)
	}
	return fmt.Errorf("%w: %v", ErrBadRun, err)
}

// MaxKeyBytes bounds the length of a key in a run, written or read: a
// corrupt length cannot ask for gigabytes, and every run written can be
// read back (WriteRun refuses a longer key). Keys come from parse, whose
// limit (parse.MaxKeyBytes, 64 KiB) is below this one, the format's.
const MaxKeyBytes = 1 << 20

// Next implements Cursor.
func (r *RunReader) Next(dst []Point) (string, []Point, error) {
	if r.done {
		return "", dst, io.EOF
	}
	n, err := r.uvarint()
	if err != nil {
		return "", dst, err
	}
	if n == 0 {
		keys, err := r.uvarint()
		if err != nil {
			return "", dst, err
		}
		points, err := r.uvarint()
		if err != nil {
			return "", dst, err
		}
		if keys != uint64(r.keys) || points != uint64(r.points) {
			return "", dst, fmt.Errorf("%w: trailer says %d keys %d points, read %d and %d", ErrBadRun, keys, points, r.keys, r.points)
		}
		r.done = true
		return "", dst, io.EOF
	}
	if n-1 > MaxKeyBytes {
		return "", dst, fmt.Errorf("%w: key length %d", ErrBadRun, n-1)
	}
	r.kbuf = slices.Grow(r.kbuf[:0], int(n-1))[:n-1]
	if _, err := io.ReadFull(r.br, r.kbuf); err != nil {
		return "", dst, r.bad(err)
	}
	if r.keys > 0 && string(r.kbuf) <= r.key {
		return "", dst, fmt.Errorf("%w: keys out of order", ErrBadRun)
	}
	r.key = string(r.kbuf)
	np, err := r.uvarint()
	if err != nil {
		return "", dst, err
	}
	if np == 0 {
		return "", dst, fmt.Errorf("%w: key without points", ErrBadRun)
	}
	// Points are appended as they are decoded, never allocated from np:
	// memory follows the bytes actually read.
	start := len(dst)
	var ts int64
	for i := uint64(0); i < np; i++ {
		var vals [9]int64
		for j := range vals {
			if vals[j], err = binary.ReadVarint(r.br); err != nil {
				return "", dst[:start], r.bad(err)
			}
		}
		if i > 0 && (vals[0] <= 0 || ts > math.MaxInt64-vals[0]) {
			return "", dst[:start], fmt.Errorf("%w: times out of order", ErrBadRun)
		}
		ts += vals[0]
		dst = append(dst, Point{TimeMillis: ts, Counters: Counters{
			Requests: vals[1], Status2xx: vals[2], Status3xx: vals[3], Status4xx: vals[4],
			Status5xx: vals[5], Status429: vals[6], Rejected: vals[7], BytesSent: vals[8],
		}})
	}
	r.keys++
	r.points += int64(np)
	return r.key, dst, nil
}
