package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/parquetlog"
)

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func autoConfig(keys ...string) Config {
	return Config{
		Format:       parse.FormatAuto,
		KeySources:   keys,
		OpenColumnar: parquetlog.Open,
		Workers:      2,
		MaxSamples:   10,
	}
}

// keyRequests sums requests per key.
func keyRequests(t *testing.T, st aggregate.Partials) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := each(st, func(s *aggregate.Series) error {
		for _, p := range s.Points {
			out[s.Key] += p.Counters.Requests
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAutoDetectPerFile(t *testing.T) {
	dir := t.TempDir()
	combined := writeFile(t, dir, "a.log.gz", gz(t,
		"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=k1 HTTP/1.1\" 200 5 \"-\" \"curl\"\r\n"+
			"1.2.3.4 - - [10/Oct/2000:13:55:37 -0700] \"GET /?api_key=k1 HTTP/1.1\" 429 5 \"-\" \"curl\"\r\n"))
	w3c := writeFile(t, dir, "b.log", []byte("#Software: IIS\n#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status\n"+
		"2015-01-13 00:32:17.250 GET /x api_key=k2 200\n#Fields: date time cs-uri-stem cs-uri-query sc-status\n2015-01-13 00:32:18 /y api_key=k2 404\n"))
	json := writeFile(t, dir, "c.log", []byte(`{"ts":1716723772.601,"request":{"uri":"/?api_key=k3","method":"GET"},"status":200}`+"\n"+
		`{"ts":1716723772.9,"msg":"server started"}`+"\n"))
	res, err := Run(context.Background(), []string{combined, w3c, json}, autoConfig("query:api_key"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		format, precision string
		parsed, skipped   int64
	}{{"combined", "s", 2, 0}, {"w3c", "ms", 2, 3}, {"json", "ms", 1, 1}}
	for i, w := range want {
		f := res.Files[i]
		if f.Format != w.format || f.TimePrecision != w.precision || f.Parsed != w.parsed || f.Skipped != w.skipped || f.Malformed != 0 {
			t.Errorf("file %d: %+v, want %+v", i, f, w)
		}
	}
	if res.Files[0].Compression != "gzip" {
		t.Errorf("compression %q", res.Files[0].Compression)
	}
	got := keyRequests(t, res.Source)
	if got["k1"] != 2 || got["k2"] != 2 || got["k3"] != 1 || len(got) != 3 {
		t.Errorf("requests per key = %v", got)
	}
}

func TestAutoDetectFailureNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.log", []byte("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5\n"))
	bad := writeFile(t, dir, "notes.txt", []byte("remember to rotate the logs\nand more\n"))
	_, err := Run(context.Background(), []string{good, bad}, autoConfig("query:api_key"))
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "remember to rotate the logs") {
		t.Fatalf("err = %v, want the file name and its first line", err)
	}
}

func TestFixedFormatAndLayout(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "a.log", []byte("2024-01-02T03:04:05.5Z|sk_1|200\n2024-01-02T03:04:06Z|bad key|200\nnonsense\n"))
	cfg := autoConfig("field:http_x_api_key")
	cfg.Format = parse.FormatLayout
	cfg.FormatOptions = parse.FormatOptions{LogFormat: "$time_iso8601|$http_x_api_key|$status"}
	cfg.KeyPattern, _ = parse.CompileKeyPattern(`sk_[0-9]+`)
	res, err := Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Format != parse.FormatLayout || f.Parsed != 2 || f.Malformed != 1 || f.InvalidKey != 1 || f.Keyless != 0 || f.TimePrecision != "ms" {
		t.Errorf("stats %+v", f)
	}
	if len(res.Samples) != 1 || res.Samples[0].Line != 3 || res.Samples[0].Excerpt != "nonsense" {
		t.Errorf("samples %+v", res.Samples)
	}
	// An unknown fixed format fails before any file is read.
	cfg.Format, cfg.FormatOptions = "nope", parse.FormatOptions{}
	if _, err := Run(context.Background(), []string{p}, cfg); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestRobustLines(t *testing.T) {
	dir := t.TempDir()
	line := func(key string) string {
		return "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=" + key + " HTTP/1.1\" 200 5 \"-\" \"-\"\n"
	}
	data := line("ok") +
		"\x00\x00\x00\x00" + line("afternul") + // copytruncate hole, then a line
		line("bad%FFutf8") + // decodes to invalid UTF-8
		"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=long" + strings.Repeat("x", 300) + " HTTP/1.1\" 200 5\n" +
		"\x00\x00\n" +
		line("ok")
	p := writeFile(t, dir, "a.log", []byte(data))
	cfg := autoConfig("query:api_key")
	cfg.MaxLineBytes = 200
	res, err := Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Lines != 6 || f.Parsed != 4 || f.Malformed != 1 || f.NULBytes != 2 || f.InvalidUTF8 != 1 {
		t.Errorf("stats %+v", f)
	}
	got := keyRequests(t, res.Source)
	if got["ok"] != 2 || got["afternul"] != 1 || got["bad\xffutf8"] != 1 || len(got) != 3 {
		t.Errorf("keys %v", got)
	}
}

// accessRow is a Parquet access-log row as Athena/Glue would write ALB
// logs (column names differ from keyrate's roles: --field maps them).
type accessRow struct {
	Time      string `parquet:"time"`
	ClientIP  string `parquet:"client_ip"`
	Verb      string `parquet:"request_verb"`
	URL       string `parquet:"request_url"`
	Status    int32  `parquet:"elb_status_code"`
	Sent      int64  `parquet:"sent_bytes"`
	Token     string `parquet:"tok"`
	Unrelated string `parquet:"unrelated"`
}

type tsRow struct {
	When   time.Time `parquet:"when,timestamp(millisecond)"`
	Path   string    `parquet:"path"`
	Status int64     `parquet:"status"`
}

func TestParquetInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "alb.parquet")
	rows := []accessRow{
		{"2021-03-16T20:20:00.135052Z", "10.0.0.1", "GET", "https://x:443/v1?api_key=a1", 200, 10, "t1", "u"},
		{"2021-03-16T20:20:01.000000Z", "10.0.0.2", "POST", "https://x:443/v1?api_key=a1", 429, 20, "t2", "u"},
		{"not a time", "10.0.0.3", "GET", "/v1?api_key=a2", 200, 30, "t3", "u"},
	}
	if err := parquet.WriteFile(p, rows); err != nil {
		t.Fatal(err)
	}
	cfg := autoConfig("query:api_key")
	res, err := Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Format != "parquet" || f.Lines != 3 || f.Parsed != 2 || f.Malformed != 1 || f.TimePrecision != "ms" {
		t.Errorf("stats %+v", f)
	}
	if got := keyRequests(t, res.Source); got["a1"] != 2 || len(got) != 1 {
		t.Errorf("keys %v", got)
	}
	// --field maps a column to a key field; --format parquet forces it.
	cfg = autoConfig("field:tok")
	cfg.Format = parse.FormatParquet
	res, err = Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := keyRequests(t, res.Source); got["t1"] != 1 || got["t2"] != 1 || len(got) != 2 {
		t.Errorf("field keys %v", got)
	}

	// Typed timestamp columns and a --field time mapping.
	p2 := filepath.Join(dir, "ts.parquet")
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 250e6, time.UTC)
	// (A time past year 9998 is malformed, as in a line.)
	far := time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := parquet.WriteFile(p2, []tsRow{{t0, "/?key=z", 200}, {far, "/?key=z", 200}, {t0.Add(time.Minute), "/?key=z", 200}}); err != nil {
		t.Fatal(err)
	}
	cfg = autoConfig("query:key")
	cfg.FormatOptions.Fields = map[string]string{parse.RoleTime: "when"}
	res, err = Run(context.Background(), []string{p2}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var first int64 = -1
	each(res.Source, func(s *aggregate.Series) error { first = s.Points[0].TimeMillis; return nil })
	if res.Files[0].Parsed != 2 || res.Files[0].Malformed != 1 || first != t0.UnixMilli() {
		t.Errorf("timestamp column: %+v first %d want %d", res.Files[0], first, t0.UnixMilli())
	}

	// A gzip-wrapped or non-Parquet file with --format parquet fails with its name.
	notPQ := writeFile(t, dir, "x.log", []byte("hello\n"))
	cfg.Format = parse.FormatParquet
	if _, err := Run(context.Background(), []string{notPQ}, cfg); err == nil || !strings.Contains(err.Error(), notPQ) {
		t.Errorf("non-parquet: %v", err)
	}
}

// A file detected as common from its first lines may turn combined later
// (a config change mid-file); those lines must not become malformed.
func TestDetectedCommonReadsLaterCombinedLines(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for range 250 { // more than detection samples
		b.WriteString("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=a HTTP/1.1\" 200 5\n")
	}
	for range 5 {
		b.WriteString("v.example 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=b HTTP/1.1\" 200 5 \"-\" \"curl\"\n")
	}
	p := writeFile(t, dir, "a.log", []byte(b.String()))
	blank := writeFile(t, dir, "blank.log", []byte("\n\r\n\n"))
	res, err := Run(context.Background(), []string{p, blank}, autoConfig("query:api_key"))
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Files[0]; f.Format != "common" || f.Parsed != 255 || f.Malformed != 0 {
		t.Errorf("stats %+v", f)
	}
	if f := res.Files[1]; f.Format != "empty" || f.Lines != 3 || f.Parsed != 0 || f.Malformed != 0 {
		t.Errorf("blank file stats %+v", f)
	}
}

// TestCopytruncateHole: a log that copytruncate left with a hole longer
// than --max-line-bytes before its first line (and a shorter one before a
// later line) loses no request: the padding is not the line, and format
// detection looks past it.
func TestCopytruncateHole(t *testing.T) {
	dir := t.TempDir()
	line := "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=k HTTP/1.1\" 200 5 \"-\" \"-\"\n"
	// Holes at the start, short in a block, and mid-file longer than a
	// block (the cutter then sees no line end at all): the same counts
	// whatever the block size.
	data := strings.Repeat("\x00", 200_000) + line + line + strings.Repeat("\x00", 1000) + line +
		strings.Repeat("\x00", 300_000) + line
	for _, p := range []string{writeFile(t, dir, "a.log", []byte(data)), writeFile(t, dir, "a.log.gz", gz(t, data))} {
		for _, block := range []int{0, 97, 4096} {
			cfg := autoConfig("query:api_key")
			cfg.MaxLineBytes = 500
			cfg.BlockBytes = block
			res, err := Run(context.Background(), []string{p}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := res.Files[0]
			if f.Format != "combined" || f.Lines != 4 || f.Parsed != 4 || f.Malformed != 0 || f.NULBytes != 3 {
				t.Errorf("%s, blocks of %d: stats %+v", p, block, f)
			}
			if got := keyRequests(t, res.Source); got["k"] != 4 {
				t.Errorf("%s, blocks of %d: key k has %d requests, want 4", p, block, got["k"])
			}
			res.Close()
		}
	}
}

// TestTimesOutsideFourDigitYears: a time whose UTC year is not 0001-9998
// is malformed (the reports' RFC 3339 cannot write it, nor the end of a
// window holding a time in 9999, and the manifest failed to encode after
// the whole run); the range's very ends are valid.
func TestTimesOutsideFourDigitYears(t *testing.T) {
	line := func(ts string) string {
		return "1.2.3.4 - - [" + ts + "] \"GET /?api_key=k HTTP/1.1\" 200 5 \"-\" \"-\"\n"
	}
	data := line("01/Jan/9999:00:00:00 +0000") + line("01/Jan/0000:00:00:00 +1400") +
		line("31/Dec/9998:23:59:59 +0000") + line("01/Jan/0001:00:00:00 +0000")
	cfg := autoConfig("query:api_key")
	cfg.Format = "combined"
	res, err := Run(context.Background(), []string{writeFile(t, t.TempDir(), "a.log", []byte(data))}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if f := res.Files[0]; f.Parsed != 2 || f.Malformed != 2 || f.MinTime != parse.MinTimeMillis || f.MaxTime != parse.MaxTimeMillis/1000*1000 {
		t.Errorf("stats %+v", f)
	}
	if len(res.Samples) != 2 || res.Samples[0].Line != 1 || res.Samples[1].Line != 2 || !strings.Contains(res.Samples[0].Reason, "0001 to 9998") {
		t.Errorf("samples %+v", res.Samples)
	}
}

// TestW3CLogWithBOM: an IIS log saved with a byte order mark before its
// "#Software:" directive, or after a NUL hole, is detected and read like
// one without.
func TestW3CLogWithBOM(t *testing.T) {
	log := "\xef\xbb\xbf#Software: Microsoft Internet Information Services 10.0\n" +
		"#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status\n" +
		"2026-11-23 10:00:00 GET /v1/items api_key=k1 200\n" +
		"2026-11-23 10:00:01 GET /v1/items api_key=k1 429\n"
	dir := t.TempDir()
	// And one that starts with a copytruncate hole, and one that is only a
	// hole (empty, not a log of no known format).
	hole := strings.Repeat("\x00", 100_000)
	paths := []string{writeFile(t, dir, "u_ex261123.log", []byte(log)), writeFile(t, dir, "hole.log", []byte(hole+log[3:])),
		writeFile(t, dir, "only-hole.log", []byte(hole))}
	res, err := Run(context.Background(), paths, autoConfig("query:api_key"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for _, f := range res.Files[:2] {
		if f.Format != "w3c" || f.Parsed != 2 || f.Malformed != 0 {
			t.Errorf("stats %+v", f)
		}
	}
	if f := res.Files[2]; f.Format != "empty" {
		t.Errorf("a file of NULs: stats %+v", f)
	}
	if got := keyRequests(t, res.Source); got["k1"] != 4 {
		t.Errorf("keys %v", got)
	}
}

// TestValidUTF8 checks the keys' UTF-8 check against utf8.Valid at every
// length and position around its 8-byte words.
func TestValidUTF8(t *testing.T) {
	for n := range 20 {
		for at := -1; at < n; at++ {
			for _, c := range [][]byte{{0x80}, {0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xff}, {0xc3}, {0x7f}} {
				key := bytes.Repeat([]byte("k"), n)
				if at >= 0 {
					key = append(key[:at:at], append(c, key[at:]...)...)
				}
				if got, want := validUTF8(key), utf8.Valid(key); got != want {
					t.Errorf("validUTF8(%q) = %v, want %v", key, got, want)
				}
			}
		}
	}
}

// BenchmarkValidUTF8 measures the check on a typical 17-byte ASCII key.
func BenchmarkValidUTF8(b *testing.B) {
	key := []byte("k875927a73dce3caf")
	b.ReportAllocs()
	b.Run("utf8.Valid", func(b *testing.B) {
		for b.Loop() {
			if !utf8.Valid(key) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("validUTF8", func(b *testing.B) {
		for b.Loop() {
			if !validUTF8(key) {
				b.Fatal("invalid")
			}
		}
	})
}
