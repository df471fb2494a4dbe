package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/parse"
)

// fieldsParser reads "MS METHOD TARGET STATUS VERDICT" lines, filling the
// verdict as a named field the way layout-driven parsers do.
type fieldsParser struct{}

func (fieldsParser) Parse(line []byte, rec *parse.Record) error {
	rec.Reset()
	f := bytes.Fields(line)
	if len(f) != 5 {
		return &parse.SyntaxError{Msg: "want 5 fields"}
	}
	ms, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return &parse.SyntaxError{Msg: "bad time"}
	}
	st, _ := strconv.Atoi(string(f[3]))
	rec.TimeMillis, rec.Method, rec.Target, rec.Status, rec.HasRequest = ms, f[1], f[2], st, true
	rec.SubSecond = ms%1000 != 0 // as a parser of a sub-second format declares
	rec.Fields = append(rec.Fields, parse.Field{Name: "limit_req_status", Value: f[4]})
	return nil
}

type point struct {
	key                   string
	t, requests, rejected int64
}

func points(src aggregate.Partials) []point {
	var out []point
	_ = each(src, func(s *aggregate.Series) error {
		for _, p := range s.Points {
			out = append(out, point{s.Key, p.TimeMillis, p.Requests, p.Rejected})
		}
		return nil
	})
	return out
}

func TestFiltersVerdictAndPrecision(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.log": "1000 POST /v1/search?key=k1 200 PASSED\n" +
			"1000 GET /v1/search?key=k1 200 PASSED\n" +
			"1500 POST /v1/search/deep?key=k1 503 REJECTED\n" +
			"2000 POST /v1/other?key=k1 200 DELAYED\n",
		"b.log": "1000 POST /v1/search?key=k1 500 REJECTED_DRY_RUN\n" +
			"3000 POST /v1/search?key=k2 429 -\n",
	}
	var paths []string
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cfg := Config{
		NewParser:      func() parse.LineParser { return fieldsParser{} },
		KeySources:     []string{"query:key"},
		ThrottleStatus: []int{429},
		Workers:        2,
		Filters: []policy.RequestFilter{
			{Methods: []string{"POST"}, Paths: []string{"/v1/search*"}, ExcludeStatus: []int{500, 503}},
		},
		VerdictField: "limit_req_status",
	}
	res, err := Run(context.Background(), paths, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The verdict decides rejections: the 429 with verdict "-" is not
	// one; REJECTED and REJECTED_DRY_RUN are.
	wantAll := []point{{"k1", 1000, 3, 1}, {"k1", 1500, 1, 1}, {"k1", 2000, 1, 0}, {"k2", 3000, 1, 0}}
	if got := points(res.Source); !equal(got, wantAll) {
		t.Errorf("all: got %v, want %v", got, wantAll)
	}
	// In scope: POST /v1/search*. Excluded statuses are not counted but
	// their rejections are kept.
	if len(res.Filtered) != 1 {
		t.Fatalf("%d filtered states, want 1", len(res.Filtered))
	}
	wantF := []point{{"k1", 1000, 1, 1}, {"k1", 1500, 0, 1}, {"k2", 3000, 1, 0}}
	if got := points(res.Filtered[0]); !equal(got, wantF) {
		t.Errorf("filtered: got %v, want %v", got, wantF)
	}
	for _, f := range res.Files {
		want := "ms"
		if filepath.Base(f.Path) == "b.log" {
			want = "s" // 1000 and 3000 ms are whole seconds
		}
		if f.VerdictMissing != 0 {
			t.Errorf("%s: %d lines without a verdict, want 0", f.Path, f.VerdictMissing)
		}
		if f.TimePrecision != want {
			t.Errorf("%s: precision %q, want %q", f.Path, f.TimePrecision, want)
		}
	}
}

func equal(a, b []point) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVerdictRejected(t *testing.T) {
	for v, want := range map[string]bool{
		"REJECTED": true, "REJECTED_DRY_RUN": true, "PASSED": false, "DELAYED": false,
		"DELAYED_DRY_RUN": false, "-": false, "": false, "rejected": false,
	} {
		if got := VerdictRejected([]byte(v)); got != want {
			t.Errorf("VerdictRejected(%q) = %v, want %v", v, got, want)
		}
	}
}

// The per-request work of scoped limits must not allocate once a (key,
// timestamp) cell exists: it runs for every line.
func TestFilterSetAddDoesNotAllocate(t *testing.T) {
	fs := newFilterSet([]policy.RequestFilter{
		{Methods: []string{"GET", "POST"}, Paths: []string{"/v1/search*", "/v2/*/items"}},
		{ExcludeStatus: []int{500}},
	})
	var rec parse.Record
	if err := (fieldsParser{}).Parse([]byte("1000 POST /v1/search/x?key=k1 200 PASSED"), &rec); err != nil {
		t.Fatal(err)
	}
	key := []byte("k1")
	obs := aggregate.Observation{TimeMillis: 1000, Status: 200}
	fs.add(key, &rec, &obs) // create the cells
	if n := testing.AllocsPerRun(100, func() { fs.add(key, &rec, &obs) }); n != 0 {
		t.Errorf("filterSet.add allocates %.1f times per request", n)
	}
	if got := fs.states[0].Cells() + fs.states[1].Cells(); got != 2 {
		t.Errorf("%d cells, want one per filter", got)
	}
}

// BenchmarkFilterSetAdd measures the per-request cost of scoped limits;
// compare with BenchmarkStateAdd (the unscoped per-request cost).
func BenchmarkFilterSetAdd(b *testing.B) {
	fs := newFilterSet([]policy.RequestFilter{
		{Methods: []string{"POST"}, Paths: []string{"/v1/search*"}},
		{ExcludeStatus: []int{429, 500}},
	})
	var rec parse.Record
	_ = (fieldsParser{}).Parse([]byte("1000 POST /v1/search/x?key=k1 200 PASSED"), &rec)
	key := []byte("k1")
	obs := aggregate.Observation{Status: 200}
	b.ReportAllocs()
	for i := range b.N {
		obs.TimeMillis = int64(i % 4096)
		fs.add(key, &rec, &obs)
	}
}

func BenchmarkStateAdd(b *testing.B) {
	st := aggregate.NewState()
	key := []byte("k1")
	obs := aggregate.Observation{Status: 200}
	b.ReportAllocs()
	for i := range b.N {
		obs.TimeMillis = int64(i % 4096)
		st.Add(key, &obs)
	}
}
