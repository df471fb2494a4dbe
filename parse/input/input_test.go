package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func gzipBytes(t *testing.T, s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, s string) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// open opens path with an Opener of its own.
func open(path string) (*Input, error) { return new(Opener).Open(path) }

func readInput(t *testing.T, path string) (string, Compression) {
	t.Helper()
	in, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b, err := io.ReadAll(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), in.Compression
}

func TestOpenDetectsCompressionFromContent(t *testing.T) {
	dir := t.TempDir()
	one, two := "first line\n", "second line\n"
	cases := []struct {
		name string
		data []byte
		want Compression
	}{
		{"plain.gz", []byte(one + two), Plain}, // the name lies; the content decides
		// cat a.gz b.gz, as logrotate and hand-merging produce
		{"multi-member.log", append(gzipBytes(t, one), gzipBytes(t, two)...), Gzip},
		{"multi-frame.txt", append(zstdBytes(t, one), zstdBytes(t, two)...), Zstd},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, comp := readInput(t, p)
			if comp != c.want || got != one+two {
				t.Errorf("read %q as %s, want %q as %s", got, comp, one+two, c.want)
			}
		})
	}
	t.Run("bzip2 with two streams", func(t *testing.T) {
		got, comp := readInput(t, filepath.Join("..", "..", "testdata", "compress", "two-streams.log.bz2"))
		if comp != Bzip2 || strings.Count(got, "\n") != 2 || !strings.Contains(got, "api_key=k2") {
			t.Errorf("read %q as %s", got, comp)
		}
	})
}

func TestOpenCorruptStreamNamesFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	data := gzipBytes(t, strings.Repeat("some log line that compresses\n", 1000))
	data = data[:len(data)/2] // cut short
	p := filepath.Join(dir, "cut.gz")
	in := openData(t, p, data)
	defer in.Close()
	_, err := io.ReadAll(in)
	var re *ReadError
	if !errors.As(err, &re) {
		t.Fatalf("ReadAll error = %v, want *ReadError", err)
	}
	if re.File != p || re.Offset <= 0 || !strings.Contains(err.Error(), p) {
		t.Errorf("error %q: file %q offset %d", err, re.File, re.Offset)
	}
}

// TestOpenerReusesPartsExactly opens a random sequence of files through
// one Opener, as a reader goroutine goes through an archive: every
// compression, multi-member and multi-frame streams, bad headers, streams
// cut short (left half-read or read to the error), and empty files. Each
// must read exactly as a fresh Open reads it, whatever came before, and
// the reused parts must really be reused.
func TestOpenerReusesPartsExactly(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 4))
	text := func() string {
		var b strings.Builder
		for range rng.IntN(3000) {
			fmt.Fprintf(&b, "line %d %x\n", rng.IntN(1e6), rng.Uint64())
		}
		return b.String()
	}
	var paths []string
	for i := range 60 {
		var data []byte
		switch i % 7 {
		case 0:
			data = []byte(text())
		case 1:
			data = append(gzipBytes(t, text()), gzipBytes(t, text())...)
		case 2:
			data = append(zstdBytes(t, text()), zstdBytes(t, text())...)
		case 3:
			data = gzipBytes(t, text()+"tail\n")
			data = data[:len(data)*2/3] // cut short
		case 4:
			data = zstdBytes(t, text()+"tail\n")
			data = data[:len(data)*2/3]
		case 5:
			data = []byte{0x1f, 0x8b, 0, 0, 1, 2, 3} // gzip magic, bad header
		case 6:
			data = nil
		}
		p := filepath.Join(dir, fmt.Sprintf("f%02d", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	// read returns what a file reads as (its bytes, then its error),
	// stopping after limit bytes when limit >= 0.
	read := func(in *Input, limit int) string {
		var r io.Reader = in
		if limit >= 0 {
			r = io.LimitReader(in, int64(limit))
		}
		b, err := io.ReadAll(r)
		return fmt.Sprintf("%q %v", b, err)
	}
	var o Opener
	defer o.Close()
	var gzSeen, zsSeen map[any]bool = map[any]bool{}, map[any]bool{}
	for range 300 {
		p := paths[rng.IntN(len(paths))]
		limit := -1
		if rng.IntN(3) == 0 {
			limit = rng.IntN(5000) // closed half-read
		}
		fresh, ferr := open(p)
		in, err := o.Open(p)
		if (ferr != nil) != (err != nil) || (err != nil && err.Error() != ferr.Error()) {
			t.Fatalf("%s: Opener error %v, fresh Opener error %v", p, err, ferr)
		}
		if err != nil {
			continue
		}
		want, got := read(fresh, limit), read(in, limit)
		fresh.Close()
		if in.gz != nil {
			gzSeen[in.gz] = true
		}
		if in.zs != nil {
			zsSeen[in.zs] = true
		}
		in.Close()
		if got != want || in.Compression != fresh.Compression {
			t.Fatalf("%s (limit %d): read through the Opener as %.200s, fresh as %.200s", p, limit, got, want)
		}
	}
	if len(gzSeen) != 1 || len(zsSeen) != 1 {
		t.Errorf("%d gzip readers and %d zstd decoders were used; want one of each, reused", len(gzSeen), len(zsSeen))
	}
}

// TestPlainInputReadsEveryByteOnce: a plain file is read partly through
// Input's read buffer (the bytes read to detect the compression) and
// partly straight from the file; with reads of every size, large and
// small in turn, the bytes must come back exactly once and in order.
func TestPlainInputReadsEveryByteOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	data[0] = 'x' // no compression magic
	p := filepath.Join(t.TempDir(), "plain.log")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		in, err := open(p)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for {
			size := 1 + rng.IntN(700<<10)
			if rng.IntN(2) == 0 {
				size = 1 + rng.IntN(5000) // through the buffer, or not
			}
			buf := make([]byte, size)
			n, err := in.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		in.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: read %d bytes, not the file's %d (first difference at %d)", round, len(got), len(data), firstDiff(got, data))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestOpenZstdStartingWithSkippableFrame: a zstd stream may start with a
// skippable frame (pzstd writes one first); it is zstd, not plain text.
func TestOpenZstdStartingWithSkippableFrame(t *testing.T) {
	skippable := func(nibble byte, payload string) []byte {
		b := []byte{0x50 | nibble, 0x2a, 0x4d, 0x18, byte(len(payload)), 0, 0, 0}
		return append(b, payload...)
	}
	var data []byte
	data = append(data, skippable(0, "pzstd-ish")...)
	data = append(data, zstdBytes(t, "first line\n")...)
	data = append(data, skippable(0xf, "")...)
	data = append(data, zstdBytes(t, "second line\n")...)
	in := openData(t, filepath.Join(t.TempDir(), "a.log.zst"), data)
	defer in.Close()
	if in.Compression != Zstd {
		t.Errorf("compression %q, want zstd", in.Compression)
	}
	if b, err := io.ReadAll(in); err != nil || string(b) != "first line\nsecond line\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if c := DetectCompression([]byte("P*M text")); c != Plain {
		t.Errorf("plain text starting P*M detected as %q", c)
	}
}

// TestInputStreamStart: what a stream starts with that is not log text
// is dropped, whatever the compression and the size of the reads: a
// UTF-8 byte order mark, and the NUL run of a copytruncate hole, which
// comes out as one NUL (so the line still counts in nul_lines). The same
// bytes anywhere else are content.
func TestInputStreamStart(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	hole := strings.Repeat("\x00", 200_000)
	for _, c := range []struct{ name, in, want string }{
		{"hole then lines", hole + "a\n\x00\x00b\n", "\x00a\n\x00\x00b\n"},
		{"only a hole", hole, "\x00"},
		{"one NUL", "\x00a\n", "\x00a\n"},
		{"no hole", "a\x00\n", "a\x00\n"},
		{"empty", "", ""},
		{"BOM then a directive", bom + "#Software: IIS\nx\n", "#Software: IIS\nx\n"},
		{"only a BOM", bom, ""},
		{"BOM then a hole", bom + "\x00\x00\x00a\n", "\x00a\n"},
		{"a BOM later", "a\n" + bom + "b\n", "a\n" + bom + "b\n"},
		{"part of a BOM", "\xef\xbbx\n", "\xef\xbbx\n"},
		{"short", "ab", "ab"},
	} {
		for _, kind := range []string{"plain", "gzip", "zstd"} {
			data := []byte(c.in)
			switch kind {
			case "gzip":
				data = gzipBytes(t, c.in)
			case "zstd":
				data = zstdBytes(t, c.in)
			}
			p := filepath.Join(t.TempDir(), "log")
			// (A BOM is looked for in a first read of 3 bytes or more;
			// keyrate's are 4 KiB and up.)
			for _, step := range []int{3, 7, 64 << 10} {
				in := openData(t, p, data)
				got, err := io.ReadAll(readerFunc(func(b []byte) (int, error) { return in.Read(b[:min(len(b), step)]) }))
				in.Close()
				if err != nil || string(got) != c.want {
					t.Errorf("%s, %s, reads of %d: %d bytes %q..., %v; want %q", c.name, kind, step, len(got), got[:min(len(got), 8)], err, c.want)
				}
			}
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// openData writes data to path and opens it.
func openData(t *testing.T, path string, data []byte) *Input {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// The case: a valid zstd file written with zstd --long=30 (a
// 1 GiB window) was "corrupt". Windows up to the Opener's limit (at most
// 2 GiB, what zstd -d --long decodes) are read; a larger one fails
// before anything is read with a *WindowError, which is not a ReadError
// (a corrupt input could be skipped).
func TestZstdWindows(t *testing.T) {
	long30 := filepath.Join("..", "..", "testdata", "compress", "long30.log.zst") // zstd --long=30 -19 from stdin
	// A frame header declaring a 4 GiB window (window log 32), which no
	// zstd -d decodes, then a raw block "x\n".
	huge := append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 22 << 3}, 0x11, 0x00, 0x00, 'x', '\n')
	hugePath := filepath.Join(t.TempDir(), "log32.zst")
	os.WriteFile(hugePath, huge, 0o644)
	// pzstd starts with a skippable frame: the window is the next frame's.
	skippable := append([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}, huge...)
	skipPath := filepath.Join(t.TempDir(), "skip-then-log32.zst")
	os.WriteFile(skipPath, skippable, 0o644)
	for _, c := range []struct {
		path   string
		limit  uint64
		window uint64 // 0: read
		text   string
	}{
		{long30, 0, 0, ""},
		{long30, 1 << 30, 0, ""},
		{long30, ZstdWindowLimit(512 << 20), 1 << 30, "1 GiB window (as zstd --long=30 writes), over the 512 MiB allowed"},
		{hugePath, 0, 4 << 30, "4 GiB window, over the 2 GiB zstd -d decodes at most"},
		{skipPath, 0, 4 << 30, "4 GiB window"},
	} {
		o := Opener{ZstdWindow: c.limit}
		in, err := o.Open(c.path)
		if c.window == 0 {
			if err != nil {
				t.Errorf("%s, limit %d: %v", c.path, c.limit, err)
				continue
			}
			b, err := io.ReadAll(in)
			in.Close()
			if err != nil || strings.Count(string(b), "\n") != 200 {
				t.Errorf("%s, limit %d: read %d lines, %v; want 200", c.path, c.limit, strings.Count(string(b), "\n"), err)
			}
			continue
		}
		var we *WindowError
		var re *ReadError
		if !errors.As(err, &we) || errors.As(err, &re) || we.Window != c.window || !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s, limit %d: %v; want a *WindowError saying %q", c.path, c.limit, err, c.text)
		}
	}
	for mem, want := range map[int64]uint64{0: 2 << 30, 64 << 20: 128 << 20, 1 << 30: 1 << 30, 8 << 30: 2 << 30} {
		if got := ZstdWindowLimit(mem); got != want {
			t.Errorf("ZstdWindowLimit(%d) = %d, want %d", mem, got, want)
		}
	}
}

// A decompressor failing on its first read with io.ErrUnexpectedEOF (a
// bzip2 stream cut inside its first block) fails the input: a stream
// shorter than a byte order mark ends it, this does not.
func TestCutShortAtFirstReadIsAnError(t *testing.T) {
	junk := append([]byte("BZh91AY&SY"), bytes.Repeat([]byte("junk"), 500)...)
	in := openData(t, filepath.Join(t.TempDir(), "junk.bz2"), junk)
	defer in.Close()
	var re *ReadError
	if _, err := io.ReadAll(in); !errors.As(err, &re) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAll = %v, want a *ReadError for the stream cut short", err)
	}
	for _, short := range []string{"", "a", "ab"} {
		in := openData(t, filepath.Join(t.TempDir(), "short.log"), []byte(short))
		if b, err := io.ReadAll(in); string(b) != short || err != nil {
			t.Errorf("ReadAll of %q = %q, %v", short, b, err)
		}
		in.Close()
	}
}
