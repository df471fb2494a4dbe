package parquetlog

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/keyrate/keyrate/parse"
)

// cfRow is a CloudFront-style Parquet row: split date and time columns,
// dictionary-encoded strings, optional (nullable) values.
type cfRow struct {
	Date     string  `parquet:"date,dict"`
	Time     string  `parquet:"time"`
	CIP      string  `parquet:"c_ip,dict"`
	Method   string  `parquet:"cs_method,dict"`
	Stem     string  `parquet:"cs_uri_stem"`
	Query    *string `parquet:"cs_uri_query,optional"`
	Status   int32   `parquet:"sc_status"`
	Bytes    *int64  `parquet:"sc_bytes,optional"`
	Location string  `parquet:"x_edge_location"`
	Epoch    float64 `parquet:"epoch"`
}

func ptr[T any](v T) *T { return &v }

func readAll(t *testing.T, path string, o parse.FormatOptions) ([]parse.Record, []error) {
	t.Helper()
	src, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []parse.Record
	var errs []error
	for {
		var rec parse.Record
		err := src.Next(&rec)
		if err == io.EOF {
			return out, errs
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Copy what the test inspects: slices are only valid until Next.
		rec.Target = append([]byte(nil), rec.Target...)
		rec.Method = append([]byte(nil), rec.Method...)
		rec.RemoteAddr = append([]byte(nil), rec.RemoteAddr...)
		for i := range rec.Fields {
			rec.Fields[i].Value = append([]byte(nil), rec.Fields[i].Value...)
		}
		rec.Fields = append([]parse.Field(nil), rec.Fields...)
		out = append(out, rec)
	}
}

func TestCloudFrontStyleParquet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cf.parquet")
	rows := []cfRow{
		{"2019-12-04", "21:02:31", "89.160.20.112", "GET", "/index.html", ptr("api_key=z"), 200, ptr(int64(392)), "LAX1", 1.5},
		{"2019-12-04", "21:02:32", "89.160.20.113", "GET", "/b", nil, 304, nil, "LAX1", 2},
		{"2019-12-04", "bogus", "89.160.20.113", "GET", "/c", nil, 200, nil, "LAX1", 2},
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, path, parse.FormatOptions{Want: []string{"x_edge_location"}})
	if len(recs) != 2 || len(errs) != 1 {
		t.Fatalf("%d records, errors %v", len(recs), errs)
	}
	var se *parse.SyntaxError
	if !errors.As(errs[0], &se) {
		t.Errorf("bad row error %v is not a SyntaxError", errs[0])
	}
	r := recs[0]
	want := time.Date(2019, 12, 4, 21, 2, 31, 0, time.UTC).UnixMilli()
	if r.TimeMillis != want || string(r.Target) != "/index.html?api_key=z" || string(r.Method) != "GET" || r.Status != 200 || r.Bytes != 392 ||
		string(r.RemoteAddr) != "89.160.20.112" || string(r.Field("x_edge_location")) != "LAX1" {
		t.Errorf("record 0: %+v", r)
	}
	if recs[1].Bytes != 0 || string(recs[1].Target) != "/b" || recs[1].Status != 304 {
		t.Errorf("record 1 (nulls): %+v", recs[1])
	}
	// --field time=epoch reads the float column as epoch seconds.
	recs, _ = readAll(t, path, parse.FormatOptions{Fields: map[string]string{parse.RoleTime: "epoch"}})
	if len(recs) != 3 || recs[0].TimeMillis != 1500 || !recs[0].SubSecond || recs[1].TimeMillis != 2000 {
		t.Errorf("epoch time: %d records, first %d", len(recs), recs[0].TimeMillis)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.parquet"), parse.FormatOptions{}); err == nil {
		t.Error("missing file opened")
	}
	type other struct {
		A string `parquet:"a"`
	}
	p := filepath.Join(dir, "other.parquet")
	if err := parquet.WriteFile(p, []other{{"x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p, parse.FormatOptions{}); err == nil || errors.Is(err, parse.ErrCorrupt) {
		t.Errorf("a file without any known column: %v; want an error that --skip-corrupt does not skip", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.parquet")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cut, parse.FormatOptions{}); !errors.Is(err, parse.ErrCorrupt) || !strings.Contains(err.Error(), "not a readable Parquet file") {
		t.Errorf("a file cut short: %v; want a corrupt-input error", err)
	}
}

func TestColumnProjection(t *testing.T) {
	m := parse.NewColumnMapper([]string{"unrelated", "Time", "date", "sc_status", "blob", "cs_uri_stem"}, parse.FormatOptions{})
	got := m.Needed()
	want := []int{1, 2, 3, 5}
	if len(got) != len(want) {
		t.Fatalf("Needed() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Needed() = %v, want %v", got, want)
		}
	}
}

// typedRow has a column of each kind of cell the reader renders itself:
// timestamps, dates, times of day, unsigned and decimal integers, legacy
// INT96 timestamps, nulls; the file has several row groups, each longer
// than one read batch.
type typedRow struct {
	TS     time.Time        `parquet:"ts,timestamp(microsecond)"`
	URI    string           `parquet:"uri,dict"`
	Status uint32           `parquet:"status"`
	Bytes  *int64           `parquet:"bytes,optional"`
	Day    int32            `parquet:"day,date"`
	TOD    int32            `parquet:"tod,time(millisecond)"`
	Price  int64            `parquet:"price,decimal(2:18)"`
	Legacy deprecated.Int96 `parquet:"legacy"`
	Flag   bool             `parquet:"flag"`
}

// int96Of encodes t as Impala's INT96: nanoseconds of the day, then the
// Julian day number.
func int96Of(t time.Time) deprecated.Int96 {
	day := t.Unix() / 86400
	nanos := uint64(t.Sub(time.Unix(day*86400, 0)).Nanoseconds())
	return deprecated.Int96{uint32(nanos), uint32(nanos >> 32), uint32(day + 2440588)}
}

func TestTypedColumnsAcrossRowGroupsAndBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typed.parquet")
	base := time.Date(2026, 11, 1, 23, 59, 0, 0, time.UTC)
	const n = 3*batchRows + 123
	rows := make([]typedRow, n)
	for i := range rows {
		ts := base.Add(time.Duration(i) * 7 * time.Millisecond)
		rows[i] = typedRow{TS: ts, URI: fmt.Sprintf("/v1/x?api_key=k%d", i%13), Status: uint32(200 + i%3*100),
			Day: int32(ts.Unix() / 86400), TOD: int32(i % 86_400_000), Price: int64(i) - 500, Legacy: int96Of(ts), Flag: i%2 == 0}
		if i%5 != 0 {
			rows[i].Bytes = ptr(int64(i))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[typedRow](f, parquet.MaxRowsPerRowGroup(20_000))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, errs := readAll(t, path, parse.FormatOptions{Want: []string{"day", "tod", "price", "legacy", "flag"}})
	if len(errs) != 0 || len(recs) != n {
		t.Fatalf("%d records, %d errors (first %v); want %d", len(recs), len(errs), errs, n)
	}
	for i, r := range recs {
		row := rows[i]
		var bytes int64
		if row.Bytes != nil {
			bytes = *row.Bytes
		}
		ts := row.TS.Truncate(time.Millisecond)
		tod := time.UnixMilli(int64(row.TOD)).UTC().Format("15:04:05.000")
		price := fmt.Sprintf("%.2f", float64(row.Price)/100)
		if r.TimeMillis != ts.UnixMilli() || string(r.Target) != row.URI || r.Status != int(row.Status) || r.Bytes != bytes ||
			string(r.Field("day")) != ts.Format(time.DateOnly) || string(r.Field("tod")) != tod ||
			string(r.Field("price")) != price || string(r.Field("legacy")) != ts.Format("2006-01-02T15:04:05.000Z") ||
			string(r.Field("flag")) != fmt.Sprint(row.Flag) {
			t.Fatalf("row %d: got time %d target %q status %d bytes %d day %q tod %q price %q legacy %q flag %q; want %+v",
				i, r.TimeMillis, r.Target, r.Status, r.Bytes, r.Field("day"), r.Field("tod"), r.Field("price"), r.Field("legacy"), r.Field("flag"), row)
		}
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale int32
		want  string
	}{{12345, 2, "123.45"}, {-5, 2, "-0.05"}, {7, 0, "7"}, {-120, 1, "-12.0"}, {3, -2, "300"}, {0, 3, "0.000"}} {
		if got := string(appendDecimal(nil, c.v, c.scale)); got != c.want {
			t.Errorf("appendDecimal(%d, %d) = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}

// Damaged Parquet files make Arrow's decoders panic now and then; the
// reader must turn that into an error, never a crash.
func TestCorruptFilesFailWithoutPanicking(t *testing.T) {
	type row struct {
		TS     time.Time `parquet:"ts,timestamp(millisecond)"`
		URI    string    `parquet:"uri"`
		Status int32     `parquet:"status"`
	}
	rows := make([]row, 20_000)
	for i := range rows {
		rows[i] = row{time.Unix(1_700_000_000+int64(i), 0), fmt.Sprintf("/x?api_key=k%d", i%100), 200}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	if err := parquet.WriteFile(good, rows); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	failed := 0
	for trial := range 300 {
		b := append([]byte(nil), orig...)
		for range 1 + rng.IntN(20) {
			b[4+rng.IntN(len(b)-12)] = byte(rng.IntN(256))
		}
		p := filepath.Join(dir, fmt.Sprintf("bad%d.parquet", trial))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := Open(p, parse.FormatOptions{})
		if err != nil {
			failed++
			continue
		}
		var rec parse.Record
		for {
			err := src.Next(&rec)
			if err == io.EOF {
				break
			}
			var se *parse.SyntaxError
			if err != nil && !errors.As(err, &se) {
				if !errors.Is(err, parse.ErrCorrupt) {
					t.Errorf("trial %d: %v is not marked corrupt", trial, err)
				}
				failed++
				break
			}
		}
		src.Close()
	}
	if failed == 0 {
		t.Fatal("no damaged file failed to read: the test damages nothing")
	}
}
