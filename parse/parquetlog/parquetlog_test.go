package parquetlog

import (
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

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
	if _, err := Open(p, parse.FormatOptions{}); err == nil {
		t.Error("a file without any known column opened")
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
