package parse

import (
	"bytes"
	"errors"
	"io"
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

func readInput(t *testing.T, path string) (string, Compression) {
	t.Helper()
	in, err := Open(path)
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
		got, comp := readInput(t, filepath.Join("..", "testdata", "compress", "two-streams.log.bz2"))
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
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	_, err = io.ReadAll(in)
	var re *ReadError
	if !errors.As(err, &re) {
		t.Fatalf("ReadAll error = %v, want *ReadError", err)
	}
	if re.File != p || re.Offset <= 0 || !strings.Contains(err.Error(), p) {
		t.Errorf("error %q: file %q offset %d", err, re.File, re.Offset)
	}
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/2.log", "b/1.log", "a.log", "c.gz"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, nil, 0o644)
	}
	got, err := ExpandPaths([]string{filepath.Join(dir, "b"), filepath.Join(dir, "*.log"), "-", filepath.Join(dir, "b", "1.log")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "b/1.log"), filepath.Join(dir, "b/2.log"), filepath.Join(dir, "a.log"), "-"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ExpandPaths = %q, want %q", got, want)
	}
	if _, err := ExpandPaths([]string{filepath.Join(dir, "missing*.log")}); err == nil {
		t.Error("a glob matching nothing was accepted")
	}
	if _, err := ExpandPaths([]string{filepath.Join(dir, "nope.log")}); err == nil || !strings.Contains(err.Error(), "nope.log") {
		t.Errorf("missing file error = %v", err)
	}
}
