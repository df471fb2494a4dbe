package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
)

// genLog returns n combined-format lines spread over keys k0..k6.
func genLog(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "10.0.%d.%d - - [25/Nov/2026:10:%02d:%02d +0000] \"GET /v1/items/%d?api_key=k%d HTTP/1.1\" 200 %d \"-\" \"curl/8\"\n",
			i%200, i%250, (i/60)%60, i%60, i*7919%100000, i%7, 100+i%900)
	}
	return b.Bytes()
}

func gzipped(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t *testing.T, p []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(p, nil)
}

func writeFile(t *testing.T, dir, name string, p []byte) string {
	return writeFileTB(t, dir, name, p)
}

func writeFileTB(t testing.TB, dir, name string, p []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, p, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func testConfig() Config {
	return Config{
		NewParser:  func() parse.LineParser { return parse.Combined{} },
		KeySources: parse.DefaultKeySources,
		Workers:    2,
	}
}

// corruptInputs are the damaged inputs every fault test runs on. want is
// a fragment of the error; offset says whether a byte offset is expected.
type corruptInput struct {
	name   string
	data   func(t *testing.T) []byte
	want   string
	offset bool
}

func corruptInputs() []corruptInput {
	const n = 20000
	return []corruptInput{
		{"truncated.gz", func(t *testing.T) []byte {
			z := gzipped(t, genLog(n))
			return z[:len(z)*2/3]
		}, "unexpected EOF", true},
		{"trailer-cut.gz", func(t *testing.T) []byte {
			// Only the CRC and size trailer is missing: every line decodes,
			// yet the member is incomplete.
			z := gzipped(t, genLog(n))
			return z[:len(z)-5]
		}, "unexpected EOF", true},
		{"badcrc.zst", func(t *testing.T) []byte {
			z := zstded(t, genLog(n))
			z[len(z)-1] ^= 0xff // the frame's content checksum
			return z
		}, "corrupt zstd stream", true},
		{"truncated.zst", func(t *testing.T) []byte {
			z := zstded(t, genLog(n))
			return z[:len(z)/2]
		}, "corrupt zstd stream", true},
		{"garbage.bz2", func(t *testing.T) []byte {
			return append([]byte("BZh91AY&SY"), bytes.Repeat([]byte{0x5a, 0x17}, 5000)...)
		}, "corrupt bzip2 stream", true},
		{"badheader.gz", func(t *testing.T) []byte {
			return []byte{0x1f, 0x8b, 0x99, 0, 0, 0}
		}, "bad gzip header", false},
	}
}

func TestCorruptInputFailsNamingFileAndOffset(t *testing.T) {
	for _, c := range corruptInputs() {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			good := writeFile(t, dir, "good.log", genLog(100))
			bad := writeFile(t, dir, c.name, c.data(t))
			_, err := Run(context.Background(), []string{good, bad}, testConfig())
			if err == nil {
				t.Fatal("Run succeeded on a corrupt input")
			}
			msg := err.Error()
			if !strings.Contains(msg, bad) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q: want the path %s and %q", msg, bad, c.want)
			}
			var re *input.ReadError
			if c.offset {
				if !errors.As(err, &re) {
					t.Fatalf("error %q is not a *input.ReadError", msg)
				}
				if re.Offset <= 0 || !strings.Contains(msg, fmt.Sprintf("byte offset %d", re.Offset)) {
					t.Errorf("error %q: want a positive byte offset (got %d)", msg, re.Offset)
				}
			}
		})
	}
}

func TestSkipCorruptKeepsWhatWasValid(t *testing.T) {
	for _, c := range corruptInputs() {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			good := writeFile(t, dir, "good.log", genLog(100))
			data := c.data(t)
			bad := writeFile(t, dir, c.name, data)
			cfg := testConfig()
			cfg.SkipCorrupt = true
			res, err := Run(context.Background(), []string{good, bad}, cfg)
			if err != nil {
				t.Fatalf("Run with SkipCorrupt: %v", err)
			}
			g, b := res.Files[0], res.Files[1]
			if g.Corrupt || g.Lines != 100 || g.Parsed != 100 {
				t.Errorf("good file stats %+v: want 100 lines parsed, not corrupt", g)
			}
			if !b.Corrupt || !strings.Contains(b.CorruptError, c.want) {
				t.Errorf("bad file stats %+v: want Corrupt with %q", b, c.want)
			}
			if b.Lines > 20000 || b.Bytes > int64(len(data)) {
				t.Errorf("bad file stats %+v: more than the file holds", b)
			}
			// What the aggregate holds must be exactly what the stats say
			// was parsed: the good file plus the bad file's valid prefix.
			var obs int64
			each(res.Source, func(s *aggregate.Series) error {
				for _, p := range s.Points {
					obs += p.Requests
				}
				return nil
			})
			if obs != g.Parsed+b.Parsed {
				t.Errorf("aggregate holds %d requests, stats say %d+%d parsed", obs, g.Parsed, b.Parsed)
			}
		})
	}
}

// A truncated gzip must not pass as a shorter valid file; and a cut inside
// the compressed data must still yield the lines before the cut.
func TestTruncatedGzipReadsPrefix(t *testing.T) {
	dir := t.TempDir()
	z := gzipped(t, genLog(20000))
	bad := writeFile(t, dir, "cut.gz", z[:len(z)/2])
	cfg := testConfig()
	cfg.SkipCorrupt = true
	res, err := Run(context.Background(), []string{bad}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if !f.Corrupt || f.Parsed < 1000 || f.Parsed >= 20000 {
		t.Errorf("stats %+v: want a corrupt file with part of its 20000 lines parsed", f)
	}
}

func TestVanishedAndUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.log", genLog(10))
	gone := filepath.Join(dir, "rotated-away.log")
	cases := []struct {
		name, path, want string
	}{
		{"vanished", gone, "no such file"},
		// Reading /proc/self/mem at offset 0 fails with EIO, the error a
		// failing disk gives, after a successful open.
		{"unreadable", "/proc/self/mem", "input/output error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); c.name == "unreadable" && err != nil {
				t.Skipf("%s not available on this system: %v", c.path, err)
			}
			_, err := Run(context.Background(), []string{good, c.path}, testConfig())
			if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want %s and %q", err, c.path, c.want)
			}
			cfg := testConfig()
			cfg.SkipCorrupt = true
			res, err := Run(context.Background(), []string{good, c.path}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if f := res.Files[1]; !f.Corrupt || f.Lines != 0 || !strings.Contains(f.CorruptError, c.want) {
				t.Errorf("stats %+v: want corrupt with no lines", f)
			}
			if res.Files[0].Parsed != 10 {
				t.Errorf("good file parsed %d, want 10", res.Files[0].Parsed)
			}
		})
	}
}

func TestProgressCountsEverything(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.log", genLog(10000))
	zb := gzipped(t, genLog(5000))
	b := writeFile(t, dir, "b.gz", zb)
	cfg := testConfig()
	cfg.Progress = &Progress{}
	if _, err := Run(context.Background(), []string{a, b}, cfg); err != nil {
		t.Fatal(err)
	}
	wantBytes := int64(len(genLog(10000)) + len(zb))
	if got := cfg.Progress.Bytes(); got != wantBytes {
		t.Errorf("progress bytes %d, want %d", got, wantBytes)
	}
	if got := cfg.Progress.Lines(); got != 15000 {
		t.Errorf("progress lines %d, want 15000", got)
	}
	if cur := cfg.Progress.Current(); cur != a && cur != b {
		t.Errorf("current file %q, want one of the inputs", cur)
	}
}

// A run reading a pipe whose writer stays open and silent must still
// return promptly when its context is cancelled.
func TestCancelWhileReadBlocks(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := pw.Write(genLog(10)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runReader(ctx, pr)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation")
	}
}

// runReader runs the pipeline on a path that reads from r: /dev/fd/N of
// the pipe, as a shell's process substitution would give.
func runReader(ctx context.Context, r *os.File) (*Result, error) {
	return Run(ctx, []string{fmt.Sprintf("/dev/fd/%d", r.Fd())}, testConfig())
}

// TestDamagedFirstBlockIsCorruptNotUnknown: a bzip2 block's text comes
// out before its checksum is checked, so a file whose first block is
// damaged reaches format detection as junk. It must be reported as the
// corrupt input it is (which --skip-corrupt skips), not as a log of an
// unknown format. The fixture is a 300-line log compressed by bzip2 with
// one bit flipped half-way.
func TestDamagedFirstBlockIsCorruptNotUnknown(t *testing.T) {
	bad := filepath.Join("..", "..", "testdata", "compress", "damaged-block.log.bz2")
	cfg := autoConfig("query:api_key")
	_, err := Run(context.Background(), []string{bad}, cfg)
	var re *input.ReadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "corrupt bzip2 stream") || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v: want the corrupt bzip2 stream, named", err)
	}
	cfg.SkipCorrupt = true
	res, err := Run(context.Background(), []string{bad}, cfg)
	if err != nil {
		t.Fatalf("--skip-corrupt: %v", err)
	}
	defer res.Close()
	if f := res.Files[0]; !f.Corrupt || f.Compression != "bzip2" || !strings.Contains(f.CorruptError, "checksum") {
		t.Errorf("stats %+v", f)
	}
}

// TestOutOfFilesIsNotCorrupt: a file that cannot be opened because the
// process is out of file descriptors is not corrupt: --skip-corrupt must
// not mark it so and drop its requests (a run under a low ulimit marked
// hundreds of healthy files corrupt and exited 0); the run fails.
func TestOutOfFilesIsNotCorrupt(t *testing.T) {
	r := &aggregator{cfg: Config{SkipCorrupt: true}}
	var st FileStats
	emfile := &os.PathError{Op: "open", Path: "a.log", Err: syscall.EMFILE}
	if err := r.skip(&st, emfile); !errors.Is(err, syscall.EMFILE) || st.Corrupt {
		t.Errorf("EMFILE: skip returned %v, corrupt %v; want the error, not a skip", err, st.Corrupt)
	}
	corrupt := &input.ReadError{File: "a.gz", Err: errors.New("flate: corrupt input")}
	if err := r.skip(&st, corrupt); err != nil || !st.Corrupt {
		t.Errorf("a corrupt stream: skip returned %v, corrupt %v; want it skipped", err, st.Corrupt)
	}
}
