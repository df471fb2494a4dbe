package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/zeebo/xxh3"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

func hex128(b []byte) string {
	h := xxh3.Hash128(b).Bytes()
	return fmt.Sprintf("%x", h[:])
}

// TestContentHashIsXXH3OfEveryPrefix: however a stream is cut into
// writes, the hash and the hashes noted at marks are xxh3-128 of the
// whole stream and of those prefixes, computed in one call (so anyone can
// check a ledger's hashes with xxh128sum).
func TestContentHashIsXXH3OfEveryPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	for _, size := range []int{0, 1, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, HeadBytes - 1, HeadBytes, HeadBytes + 1, 3*HeadBytes + 77} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		marks := []int64{0, int64(size / 3), int64(size), int64(size) + 1, -5}
		h := newContentHash(marks...)
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(5000))
			h.Write(rest[:n])
			rest = rest[n:]
		}
		id := h.identity()
		if id.Length != int64(size) || id.Hash != hex128(data) || id.Head != hex128(data[:min(size, HeadBytes)]) {
			t.Fatalf("size %d: %+v", size, id)
		}
		for _, m := range marks {
			want := ""
			if m >= 0 && m <= int64(size) {
				want = hex128(data[:m])
			}
			if got := h.at(m); got != want {
				t.Fatalf("size %d: hash at %d = %q, want %q", size, m, got, want)
			}
		}
	}
}

// identityInputs writes one log's content in several encodings a file
// may get from logrotate (plain, gzip, zstd, multi-member gzip), each a
// separate input.
func identityInputs(t *testing.T, dir string, content []byte) []string {
	half := len(content) / 2
	return []string{
		writeFile(t, dir, "access.log.1", content),
		writeFile(t, dir, "access.log.2.gz", gzipped(t, content)),
		writeFile(t, dir, "access.log.zst", zstded(t, content)),
		writeFile(t, dir, "members.gz", append(gzipped(t, content[:half]), gzipped(t, content[half:])...)),
	}
}

// TestSameContentSameIdentity: the same log content read by the pipeline
// and by Identify has one identity, whatever its name and compression;
// a byte order mark and a leading NUL run do not count (the pipeline
// drops them), and other content has another.
func TestSameContentSameIdentity(t *testing.T) {
	dir := t.TempDir()
	content := genLog(2000) // more than HeadBytes
	paths := identityInputs(t, dir, content)
	paths = append(paths,
		writeFile(t, dir, "bom.log", append([]byte("\xef\xbb\xbf"), content...)),
		writeFile(t, dir, "other.log", genLog(2001)))
	cfg := testConfig()
	cfg.Workers = 2
	res, err := Run(context.Background(), paths, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	want := Identity{Length: int64(len(content)), Hash: hex128(content), Head: hex128(content[:HeadBytes])}
	for i, f := range res.Files {
		got := Identity{f.Length, f.Hash, f.Head}
		id, _, err := Identify(context.Background(), paths[i], nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id != got {
			t.Errorf("%s: Identify %+v, the run %+v", paths[i], id, got)
		}
		if same := got == want; same != (i < len(paths)-1) {
			t.Errorf("%s: identity %+v (same as the log: %v)", paths[i], got, same)
		}
	}
	if other := res.Files[len(paths)-1]; other.Head != want.Head || other.Hash == want.Hash {
		t.Errorf("a longer log: head %s hash %s, want the same head, another hash", other.Head, other.Hash)
	}
}

// TestLimitReadsTheEarlierReading: a file read while its writer was
// mid-line, then grown: read with a byte limit at its earlier length, it
// gives exactly the earlier reading (identity, statistics, partials),
// its last line cut as it was, whatever the compression the grown file
// now has; Identify's hash at that length names the earlier reading.
func TestLimitReadsTheEarlierReading(t *testing.T) {
	dir := t.TempDir()
	full := genLog(1500)
	cut := bytes.LastIndexByte(full[:len(full)*2/3], '\n') + 40 // mid-line
	earlier := writeFile(t, dir, "then.log", full[:cut])
	cfg := testConfig()
	cfg.Workers, cfg.MaxSamples = 2, 5
	then, err := Run(context.Background(), []string{earlier}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer then.Close()
	if then.Files[0].Malformed != 1 {
		t.Fatalf("the cut line: %d malformed, want 1", then.Files[0].Malformed)
	}
	for _, grown := range []string{
		writeFile(t, dir, "now.log", full),
		writeFile(t, dir, "now.log.gz", gzipped(t, full)),
	} {
		cfg.Limits = map[string]int64{grown: int64(cut)}
		res, err := Run(context.Background(), []string{grown}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, want := res.Files[0], then.Files[0]
		got.Path, got.Compression, got.Bytes = want.Path, want.Compression, want.Bytes
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s limited to %d bytes:\n got %+v\nwant %+v", grown, cut, got, want)
		}
		if !reflect.DeepEqual(points(res.Source), points(then.Source)) {
			t.Errorf("%s limited: the partials differ from the earlier reading's", grown)
		}
		_, at, err := Identify(context.Background(), grown, nil, []int64{int64(cut), int64(len(full)) + 1})
		if err != nil {
			t.Fatal(err)
		}
		if at[0] != want.Hash || at[1] != "" {
			t.Errorf("%s: hashes at %d and past the end: %q", grown, cut, at)
		}
		res.Close()
	}
}

// TestParquetInputIdentity: a Parquet input is identified by its file's
// bytes, alike by the run and by Identify, and a limit short of the file
// is refused.
func TestParquetInputIdentity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alb.parquet")
	rows := []accessRow{{"2021-03-16T20:20:00.135052Z", "10.0.0.1", "GET", "https://x:443/v1?api_key=a1", 200, 10, "t1", "u"}}
	if err := parquet.WriteFile(p, rows); err != nil {
		t.Fatal(err)
	}
	length, hash, head := oneShotIdentity(t, p)
	cfg := autoConfig("query:api_key")
	res, err := Run(context.Background(), []string{p}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Files[0]
	if f.Length != length || f.Hash != hash || f.Head != head || f.Length != f.Bytes {
		t.Errorf("parquet identity %d %s %s, want %d %s %s", f.Length, f.Hash, f.Head, length, hash, head)
	}
	if f.Dates == nil || f.Dates[0] != (schema.DateCount{Date: "2021-03-16", Lines: 1}) {
		t.Errorf("parquet dates %+v", f.Dates)
	}
	id, _, err := Identify(context.Background(), p, nil, nil)
	if err != nil || id.Hash != hash {
		t.Errorf("Identify: %+v %v", id, err)
	}
	cfg.Limits = map[string]int64{p: 10}
	if _, err := Run(context.Background(), []string{p}, cfg); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a Parquet input limited to 10 bytes: %v", err)
	}
}

// dayLines is n combined lines at every step from t0, keyed k0..k2.
func dayLines(t0 time.Time, step time.Duration, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		ts := t0.Add(time.Duration(i) * step)
		fmt.Fprintf(&b, "10.0.0.1 - - [%s] \"GET /?api_key=k%d HTTP/1.1\" 200 5 \"-\" \"c\"\n", ts.Format("02/Jan/2006:15:04:05 -0700"), i%3)
	}
	return b.Bytes()
}

// TestMinTimeExpiresAndDatesCount: lines before MinTime are counted as
// expired and not aggregated; Dates count the other parsed lines per UTC
// date (lines in another offset land on their UTC date): the dates a
// dataset's run touches, which an expired line must not.
func TestMinTimeExpiresAndDatesCount(t *testing.T) {
	dir := t.TempDir()
	est := time.FixedZone("EST", -5*3600)
	// a: 22:00 to 02:00 EST, Nov 22 to 23, is 03:00 to 07:00 UTC on Nov
	// 23; b: 23:00 on Nov 21 to 01:00 on Nov 22 UTC, half before the
	// horizon; old: across 1970-01-01, all before it.
	a := writeFile(t, dir, "a.log", dayLines(time.Date(2026, 11, 22, 22, 0, 0, 0, est), time.Minute, 240))
	b := writeFile(t, dir, "b.log", dayLines(time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC), time.Minute, 120))
	old := writeFile(t, dir, "old.log", dayLines(time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), 30*time.Second, 4))
	cfg := testConfig()
	cfg.KeySources = []string{"query:api_key"}
	horizon := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	cfg.MinTime = horizon.UnixMilli()
	res, err := Run(context.Background(), []string{a, b, old}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	fa, fb, fo := res.Files[0], res.Files[1], res.Files[2]
	if fa.Expired != 0 || !reflect.DeepEqual(fa.Dates, []schema.DateCount{{Date: "2026-11-23", Lines: 240}}) {
		t.Errorf("a: expired %d, dates %+v", fa.Expired, fa.Dates)
	}
	if fb.Expired != 60 || !reflect.DeepEqual(fb.Dates, []schema.DateCount{{Date: "2026-11-22", Lines: 60}}) {
		t.Errorf("b: expired %d, dates %+v", fb.Expired, fb.Dates)
	}
	if fo.Expired != 4 || len(fo.Dates) != 0 {
		t.Errorf("old: expired %d, dates %+v", fo.Expired, fo.Dates)
	}
	// Without a horizon the old lines count, on their dates before 1970 too.
	cfg.MinTime = 0
	res0, err := Run(context.Background(), []string{old}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res0.Close()
	if f := res0.Files[0]; f.Expired != 0 || !reflect.DeepEqual(f.Dates, []schema.DateCount{{Date: "1969-12-31", Lines: 2}, {Date: "1970-01-01", Lines: 2}}) {
		t.Errorf("old, no horizon: expired %d, dates %+v", f.Expired, f.Dates)
	}
	if fb.Keyless != 0 || fb.Parsed != 120 {
		t.Errorf("b: %d keyless, %d parsed: expired lines are parsed, not keyless", fb.Keyless, fb.Parsed)
	}
	var requests int64
	err = each(res.Source, func(s *aggregate.Series) error {
		for _, p := range s.Points {
			if p.TimeMillis < cfg.MinTime {
				return fmt.Errorf("key %s: a point at %v, before the horizon", s.Key, aggregate.Millis(p.TimeMillis))
			}
			requests += p.Requests
		}
		return nil
	})
	if err != nil || requests != 240+60 {
		t.Errorf("aggregated %d requests (%v), want 300", requests, err)
	}
	// Without MinTime (0), nothing expires, 1969 included.
	cfg.MinTime = 0
	all, err := Run(context.Background(), []string{old}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if all.Files[0].Expired != 0 || len(points(all.Source)) != 4 {
		t.Errorf("MinTime 0: %d expired, %d points", all.Files[0].Expired, len(points(all.Source)))
	}
}

// BenchmarkContentHash is the hash's cost per byte as the feed pays it:
// 256 KiB reads (compare with BenchmarkRunPlain's MB/s).
func BenchmarkContentHash(b *testing.B) {
	buf := genLog(1700) // ~256 KiB
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	h := newContentHash()
	for b.Loop() {
		h.Write(buf)
	}
}
