// Package input is the stream machinery in front of the parsers: it
// expands command-line paths into inputs, opens files (and standard
// input, given by the caller), undoes their compression, and cuts the
// decompressed stream into lines by the parse package's line rules.
package input

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression names a stream's compression, as detected from magic bytes.
type Compression string

const (
	Plain Compression = "none"
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	Bzip2 Compression = "bzip2"
)

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{Bzip2, []byte("BZh")},
}

// DetectCompression names the compression whose magic bytes start head.
// File names are not consulted: rotated logs are often misnamed.
func DetectCompression(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	if zstdSkippable(head) {
		return Zstd
	}
	return Plain
}

// zstdSkippable reports whether head starts a zstd skippable frame
// (magic 0x184D2A50 to 0x184D2A5F, little-endian), which a zstd stream
// may begin with: pzstd starts its output with one, and other tools put
// metadata there.
func zstdSkippable(head []byte) bool {
	return len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18
}

// Input is one opened log source: a file or standard input, decompressed.
type Input struct {
	Name        string
	Compression Compression
	Size        int64 // bytes on disk, -1 for a stream
	counter     *countingReader
	body        io.Reader
	closers     []io.Closer
	// Reusable parts, handed back to the Opener at Close.
	opener *Opener
	br     *bufio.Reader
	gz     *gzip.Reader
	zs     *zstd.Decoder
	// pastStart is set once a byte other than NUL was read; until then
	// Read collapses the NUL run a stream starts with (see squeezeStart).
	pastStart, sawNUL bool
	pastBOM           bool // the stream's first bytes were checked for a BOM
}

// Opener opens inputs one after another, as a reader goroutine goes
// through an archive, and gives each the read buffer and decompressor of
// the last one closed: with thousands of small files, allocating (and
// clearing) them afresh for each cost more than decompressing the file.
// Close the Opener after the last input. It is not safe for concurrent
// use, and an input must be closed before the next one is opened for its
// parts to be reused.
type Opener struct {
	// Stdin is what the path "-" reads (the caller's standard input); nil:
	// "-" cannot be opened.
	Stdin io.Reader
	// ZstdWindow bounds the window of the zstd frames it decodes (0:
	// MaxZstdWindow; see ZstdWindowLimit): the decoder holds a frame's
	// window in memory. A frame needing more fails with a *WindowError.
	ZstdWindow uint64
	br         *bufio.Reader
	gz         *gzip.Reader
	zs         *zstd.Decoder
}

// Open opens path ("-" reads o.Stdin) and wraps it in the decompressor
// its magic bytes call for. gzip streams may hold several members (as
// `cat a.gz b.gz` and logrotate produce) and zstd streams several frames.
func (o *Opener) Open(path string) (*Input, error) {
	in := &Input{Name: path, Size: -1, opener: o}
	var raw io.Reader
	if path == "-" {
		if o.Stdin == nil {
			return nil, errNoStdin
		}
		in.Name = "<stdin>"
		raw = o.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		in.closers = append(in.closers, f)
		// Only a regular file has a size and can be sought in: a FIFO or
		// a process substitution (/dev/fd/N) stats as size 0, and a
		// Parquet reader re-opening it would wait for a writer forever.
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.Size = st.Size()
		}
		raw = f
	}
	in.counter = &countingReader{r: raw}
	in.br, o.br = o.br, nil
	if in.br == nil {
		in.br = bufio.NewReaderSize(in.counter, 256<<10)
	} else {
		in.br.Reset(in.counter)
	}
	br := in.br
	head, _ := br.Peek(4)
	in.Compression = DetectCompression(head)
	var err error
	switch in.Compression {
	case Gzip:
		if in.gz, o.gz = o.gz, nil; in.gz != nil {
			err = in.gz.Reset(br)
		} else {
			in.gz, err = gzip.NewReader(br)
		}
		in.body = in.gz
	case Zstd:
		limit := o.zstdWindow()
		if err := checkZstdWindow(br, in.Name, limit); err != nil {
			in.Close()
			return nil, err
		}
		if in.zs, o.zs = o.zs, nil; in.zs != nil {
			err = in.zs.Reset(br)
		} else {
			// MaxMemory bounds the window of a single-segment frame (its
			// content size), MaxWindow that of the others.
			in.zs, err = zstd.NewReader(br, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxWindow(limit), zstd.WithDecoderMaxMemory(limit))
		}
		in.body = in.zs
	case Bzip2:
		in.body = bzip2.NewReader(br)
	default:
		in.body = br
	}
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("%s: bad %s header: %w", QuotePath(in.Name), in.Compression, err)
	}
	return in, nil
}

// Zstd windows: zstd -d decodes frames whose window is at most
// DefaultZstdWindow (window log 27) unless given --long or --memory, and
// at most MaxZstdWindow (window log 31, zstd --long=31) with them.
const (
	DefaultZstdWindow = 128 << 20
	MaxZstdWindow     = 2 << 30
)

// ZstdWindowLimit is the largest zstd window a run with a memory budget
// of memory bytes (0: unbounded) decodes: what zstd -d decodes by
// default, and up to what it decodes at most as far as the budget allows.
func ZstdWindowLimit(memory int64) uint64 {
	if memory <= 0 {
		return MaxZstdWindow
	}
	return max(DefaultZstdWindow, min(MaxZstdWindow, uint64(memory)))
}

func (o *Opener) zstdWindow() uint64 {
	if o.ZstdWindow == 0 {
		return MaxZstdWindow
	}
	return o.ZstdWindow
}

// WindowError is a zstd frame whose window is larger than the reader
// may hold: a file written with zstd --long=N (a window of 2^N bytes),
// or --ultra -22. It is not a corrupt input: it is read whole with more
// memory, or after recompressing with a smaller window.
//
// Only the first frame is checked before reading; a later frame with a
// larger window (files concatenated) fails as a corrupt stream at its
// offset, with the decoder's "window size exceeded".
type WindowError struct {
	File   string
	Window uint64 // the first frame's window (its content size if single-segment)
	Max    uint64 // the largest window allowed
}

func (e *WindowError) Error() string {
	what := "zstd frame with a " + sizeText(e.Window) + " window"
	if n := bits.Len64(e.Window - 1); e.Window > DefaultZstdWindow && n <= 31 {
		what += " (as zstd --long=" + strconv.Itoa(n) + " writes)"
	}
	limit := "the " + sizeText(e.Max) + " allowed"
	if e.Window > MaxZstdWindow {
		limit = "the " + sizeText(MaxZstdWindow) + " zstd -d decodes at most"
	}
	return QuotePath(e.File) + ": " + what + ", over " + limit
}

// sizeText writes n bytes in the largest binary unit that divides it, or
// in MiB rounded up.
func sizeText(n uint64) string {
	for _, u := range []struct {
		name string
		size uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatUint(n/u.size, 10) + " " + u.name
		}
	}
	if n > 1<<20 {
		return strconv.FormatUint((n+1<<20-1)>>20, 10) + " MiB"
	}
	return strconv.FormatUint(n, 10) + " bytes"
}

// checkZstdWindow reads the header of the stream's first zstd frame
// (past skippable frames within the read buffer) and fails with a
// *WindowError when its window is over limit: said before any line is
// read, the file is not taken for a corrupt one. A header it cannot read
// is left for the decoder to report.
func checkZstdWindow(br *bufio.Reader, name string, limit uint64) error {
	off := 0
	for off < br.Size() {
		b, _ := br.Peek(min(off+zstd.HeaderMaxSize, br.Size()))
		var h zstd.Header
		if len(b) <= off || h.Decode(b[off:]) != nil {
			return nil
		}
		if h.Skippable {
			off += h.HeaderSize + int(h.SkippableSize)
			continue
		}
		window := h.WindowSize
		if h.SingleSegment { // the window is the content
			window = h.FrameContentSize
		}
		if window > limit {
			return &WindowError{File: name, Window: window, Max: limit}
		}
		return nil
	}
	return nil
}

// errNoStdin is Open's error for "-" when no standard input was given.
var errNoStdin = errors.New("-: no standard input to read")

// Close releases the decompressors kept for reuse.
func (o *Opener) Close() {
	if o.zs != nil {
		o.zs.Close()
	}
	*o = Opener{Stdin: o.Stdin}
}

// Read reads decompressed bytes. Errors name the input and the compressed
// byte offset reached, so a corrupt archive member can be found.
func (in *Input) Read(p []byte) (int, error) {
	body := in.body
	if in.Compression == Plain && in.br.Buffered() == 0 && len(p) >= 4<<10 {
		// Once the bytes read to detect the compression are consumed, a
		// plain file is read straight into p: through the read buffer
		// every byte would be copied twice (bufio only bypasses its
		// buffer for reads at least as large as it).
		body = in.counter
	}
	var n int
	var err error
	if !in.pastBOM && len(p) >= len(utf8BOM) {
		n, err = in.dropBOM(body, p)
	} else {
		n, err = body.Read(p)
	}
	for !in.pastStart && n > 0 {
		if n = in.squeezeStart(p[:n]); n > 0 || err != nil {
			break
		}
		n, err = body.Read(p) // all padding so far: read on
	}
	if err != nil && err != io.EOF {
		return n, &ReadError{File: in.Name, Compression: in.Compression, Offset: in.counter.n, Err: err}
	}
	return n, err
}

// utf8BOM is the byte order mark Windows tools put before UTF-8 text.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// dropBOM is the stream's first read: it drops a byte order mark the
// stream starts with (an IIS or PowerShell log's first line, a W3C
// "#Software:" directive, would not match its format otherwise).
func (in *Input) dropBOM(body io.Reader, p []byte) (int, error) {
	in.pastBOM = true
	// Not io.ReadAtLeast: its io.ErrUnexpectedEOF for a stream shorter
	// than a BOM could not be told from a decompressor's own (a bzip2
	// stream cut short), which must not pass for the end of the input.
	var n int
	var err error
	for n < len(utf8BOM) && err == nil {
		var m int
		m, err = body.Read(p[n:])
		n += m
	}
	if n >= len(utf8BOM) && bytes.Equal(p[:len(utf8BOM)], utf8BOM) {
		n = copy(p, p[len(utf8BOM):n])
		if n == 0 && err == nil {
			return body.Read(p)
		}
	}
	return n, err
}

// squeezeStart collapses the NULs that p, the next bytes at the start of
// the stream, begins with, so that the stream starts with at most one
// NUL, and returns how many bytes of p remain. A log truncated by
// logrotate's copytruncate while its writer kept its offset starts with
// a hole as long as the old file: NULs, without a line end, ahead of the
// first new line. Squeezed here, that line stays within the maximum line
// length and format detection sees it; the one NUL left marks it as padded
// (nul_lines) for the parse workers, which strip it.
func (in *Input) squeezeStart(p []byte) int {
	i := 0
	for i < len(p) && p[i] == 0 {
		i++
	}
	keep := 0
	if i > 0 && !in.sawNUL {
		keep, in.sawNUL = 1, true
	}
	in.pastStart = i < len(p)
	copy(p[keep:], p[i:])
	return len(p) - (i - keep)
}

// CompressedBytes reports how many raw bytes have been read so far.
func (in *Input) CompressedBytes() int64 { return in.counter.n }

// Close releases the file. The read buffer and decompressor go back to
// the Opener for the next input.
func (in *Input) Close() error {
	var first error
	if in.gz != nil {
		first = in.gz.Close() // reports a stream cut short; Reset revives it
	}
	for i := len(in.closers) - 1; i >= 0; i-- {
		if err := in.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	in.closers = nil
	if o := in.opener; o != nil { // nil once closed
		if in.br != nil {
			in.br.Reset(nil) // drop the file
			o.br = in.br
		}
		if in.gz != nil {
			o.gz = in.gz
		}
		if in.zs != nil {
			_ = in.zs.Reset(nil) // a nil reader only lets go of the stream
			if o.zs != nil {
				o.zs.Close()
			}
			o.zs = in.zs
		}
	}
	in.br, in.gz, in.zs, in.opener = nil, nil, nil, nil
	return first
}

// ReadError is a failure to read or decompress an input.
type ReadError struct {
	File        string
	Compression Compression
	Offset      int64 // compressed bytes consumed when the error surfaced
	Err         error
}

func (e *ReadError) Error() string {
	what := "read error"
	if e.Compression != Plain {
		what = "corrupt " + string(e.Compression) + " stream"
	}
	return fmt.Sprintf("%s: %s near byte offset %d: %v", QuotePath(e.File), what, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
