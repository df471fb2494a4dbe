package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
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

func TestClassesVerdictAndPrecision(t *testing.T) {
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
	// The filter counts POST /v1/search* but for statuses 500 and 503:
	// those requests (rejected or not) are in class 0 with the others it
	// does not count; class 1 holds what it counts.
	if len(res.Classes) != 2 || res.Classes[0].Class != 0 || res.Classes[1].Class != 1 {
		t.Fatalf("classes %+v, want 0 and 1", res.Classes)
	}
	want0 := []point{{"k1", 1000, 2, 1}, {"k1", 1500, 1, 1}, {"k1", 2000, 1, 0}}
	if got := points(res.Classes[0].Partials); !equal(got, want0) {
		t.Errorf("class 0: got %v, want %v", got, want0)
	}
	want1 := []point{{"k1", 1000, 1, 0}, {"k2", 3000, 1, 0}}
	if got := points(res.Classes[1].Partials); !equal(got, want1) {
		t.Errorf("class 1: got %v, want %v", got, want1)
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
func TestClassSetAddDoesNotAllocate(t *testing.T) {
	cs := newClassSet([]policy.RequestFilter{
		{Methods: []string{"GET", "POST"}, Paths: []string{"/v1/search*", "/v2/*/items"}},
		{ExcludeStatus: []int{500}},
	})
	var rec parse.Record
	if err := (fieldsParser{}).Parse([]byte("1000 POST /v1/search/x?key=k1 200 PASSED"), &rec); err != nil {
		t.Fatal(err)
	}
	key := []byte("k1")
	obs := aggregate.Observation{TimeMillis: 1000, Status: 200}
	cs.add(key, &rec, &obs) // create the class and the cell
	if n := testing.AllocsPerRun(100, func() { cs.add(key, &rec, &obs) }); n != 0 {
		t.Errorf("classSet.add allocates %.1f times per request", n)
	}
	if len(cs.states) != 2 || cs.classes[1] != 3 || cs.states[0].Cells() != 0 || cs.states[1].Cells() != 1 {
		t.Errorf("classes %v with %d and %d cells, want class 3 to hold the one cell",
			cs.classes, cs.states[0].Cells(), cs.states[len(cs.states)-1].Cells())
	}
}

// BenchmarkClassSetAdd measures the per-request cost of scoped limits
// (matching the filters, finding the class, adding); compare with
// BenchmarkStateAdd (the unscoped per-request cost).
func BenchmarkClassSetAdd(b *testing.B) {
	cs := newClassSet([]policy.RequestFilter{
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
		cs.add(key, &rec, &obs)
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

// A class has 64 bits: a policy with more distinct scopes is refused
// before anything is read, not misread.
func TestMoreFiltersThanClassBitsIsAnError(t *testing.T) {
	cfg := baseConfig()
	for i := range aggregate.MaxFilters + 1 {
		cfg.Filters = append(cfg.Filters, policy.RequestFilter{Paths: []string{"/" + strconv.Itoa(i)}})
	}
	if _, err := Run(context.Background(), []string{"does-not-matter"}, cfg); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("Run with 65 filters: %v", err)
	}
}

// The classes handed to the evaluator partition the requests: their sum
// is every request (Source), also where filters overlap, and no class
// holds an empty point.
func TestClassesAddUp(t *testing.T) {
	cfg := Config{
		Format: "auto", KeySources: []string{"query:api_key"}, ThrottleStatus: []int{429},
		MaxLineBytes: 300, SkipCorrupt: true, Workers: 2,
		Filters: []policy.RequestFilter{{Methods: []string{"POST"}}, {ExcludeStatus: []int{404}}},
	}
	res, err := Run(context.Background(), mixedInputs(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	whole := dumpResult(t, res)
	if len(res.Classes) < 3 {
		t.Fatalf("%d classes, want at least 3 (overlapping filters)", len(res.Classes))
	}
	type cell struct{ requests, rejected int64 }
	sum := map[[2]any]cell{}
	for _, c := range res.Classes {
		for _, p := range points(c.Partials) {
			if p.requests == 0 && p.rejected == 0 {
				t.Fatalf("class %d holds an empty point %+v", c.Class, p)
			}
			k := [2]any{p.key, p.t}
			v := sum[k]
			v.requests += p.requests
			v.rejected += p.rejected
			sum[k] = v
		}
	}
	want := map[[2]any]cell{}
	for _, p := range whole.all {
		want[[2]any{p.key, p.t}] = cell{p.requests, p.rejected}
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("the classes do not add up to every request (%d vs %d cells)", len(sum), len(want))
	}
}
