package policy

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadIssueExample(t *testing.T) {
	pol, sum, err := Load(filepath.Join("testdata", "example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if pol.DefaultPlan != "free" || sum.Plans != 3 || sum.Limits != 8 {
		t.Errorf("summary %+v, default %q", sum, pol.DefaultPlan)
	}
	// [keys] wins over keys_file; keys_file supplies plans and accounts.
	for key, want := range map[string]string{"k_0123abcd": "pro", "k_team1": "team", "k_team3": "team", "k_solo": "pro", "unlisted": "free"} {
		if got := pol.PlanOf(key); got != want {
			t.Errorf("plan of %s = %q, want %q", key, got, want)
		}
	}
	for key, want := range map[string]string{"k_team1": "acme", "k_team2": "acme", "k_team3": "acme", "k_solo": ""} {
		if got := pol.KeyAccounts[key]; got != want {
			t.Errorf("account of %s = %q, want %q", key, got, want)
		}
	}
	free := pol.Plans["free"].Rules
	want := []Rule{
		{Name: "per-minute", Algorithm: Fixed, Limit: 100, WindowMillis: 60_000, Filter: -1},
		{Name: "rolling", Algorithm: Sliding, Limit: 1000, WindowMillis: 3_600_000, Filter: -1},
		{Name: "burst", Algorithm: TokenBucket, RateMicro: 10_000_000, Burst: 20, Filter: -1},
		{Name: "daily", Algorithm: Fixed, Limit: 100000, WindowMillis: 86_400_000, Filter: -1},
	}
	if len(free) != len(want) {
		t.Fatalf("free has %d rules, want %d", len(free), len(want))
	}
	for i := range want {
		if free[i] != want[i] {
			t.Errorf("free rule %d = %+v, want %+v", i, free[i], want[i])
		}
	}
	team := pol.Plans["team"].Rules
	if !team[0].PerAccount || team[0].Filter != -1 {
		t.Errorf("account-hourly = %+v", team[0])
	}
	if r := team[1]; r.NginxRate != 500 || r.Burst != 5 || r.Filter < 0 {
		t.Errorf("search-posts = %+v", r)
	} else if f := pol.Filters[r.Filter]; len(f.Methods) != 1 || f.Methods[0] != "POST" || f.Paths[0] != "/v1/search*" {
		t.Errorf("search-posts filter = %+v", f)
	}
	if r := team[2]; r.Calendar != Month || r.Filter < 0 || len(pol.Filters[r.Filter].ExcludeStatus) != 2 {
		t.Errorf("monthly = %+v", r)
	}
	if len(pol.Filters) != 2 {
		t.Errorf("%d filters, want 2", len(pol.Filters))
	}
}

// TestEveryErrorKind checks that one bad file reports every problem,
// each at its line.
func TestEveryErrorKind(t *testing.T) {
	_, _, err := Load(filepath.Join("testdata", "bad.toml"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := []struct {
		file string
		line int
		text string
	}{
		{"bad.toml", 1, `default_plan: unknown plan "gold"`},
		{"bad.toml", 3, "colour: unknown setting"},
		{"bad.toml", 7, "limit has no name"},
		{"bad.toml", 8, "limit -1: want 0 or more"},
		{"bad.toml", 9, `limit name "a" already used by plans.free.limits[1]`},
		{"bad.toml", 9, `window "month": a sliding window is a duration`},
		{"bad.toml", 10, "limit: want an integer, got a string"},
		{"bad.toml", 11, `window "fortnight"`},
		{"bad.toml", 12, "fixed limit needs window"},
		{"bad.toml", 13, "rate does not apply to fixed limits"},
		{"bad.toml", 14, "rate 0.1234567: want a positive number"},
		{"bad.toml", 14, "burst 0: want 1 to"},
		{"bad.toml", 15, `rate "10r/h"`},
		{"bad.toml", 16, `unknown algorithm "gcra"`},
		{"bad.toml", 17, `per "team"`},
		{"bad.toml", 18, `method "post"`},
		{"bad.toml", 18, `path "v1/*"`},
		{"bad.toml", 18, "status 42"},
		{"bad.toml", 19, "colour: unknown limit setting"},
		{"bad.toml", 20, "token-bucket limit needs rate"},
		{"bad.toml", 21, `window "500us": want a positive whole number of milliseconds`},
		{"bad.toml", 24, "plans.empty: plan has no limits"},
		{"bad.toml", 28, `keys: key "k1": unknown plan (want `},
		{"bad.toml", 29, `keys: key "k2": want a plan name`},
		{"bad-keys.csv", 3, `column 2: unknown plan (want `},
		{"bad-keys.csv", 4, "empty key"},
		{"bad-keys.csv", 5, "got 1 fields"},
		{"bad-keys.csv", 6, `plan "empty" conflicts with plan "free"`},
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			if filepath.Base(e.File) == w.file && e.Line == w.line && strings.Contains(e.Error(), w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error %s:%d %q", w.file, w.line, w.text)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	src := "default_plan = \"free\"\n\n[plans.free]\nlimits = [ { name = \"x\", algorithm = \"fixed\" limit = 1 } ]\n"
	_, _, err := Parse("p.toml", src, nil)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 4 || !strings.HasPrefix(err.Error(), "p.toml:4: ") {
		t.Fatalf("err = %v, want one error at p.toml:4", err)
	}
}

func TestNoPlans(t *testing.T) {
	_, _, err := Parse("p.toml", "default_plan = \"x\"\n", nil)
	if err == nil || !strings.Contains(err.Error(), "no plans") || !strings.Contains(err.Error(), `unknown plan "x"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingKeysFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.toml")
	src := "keys_file = \"nope.csv\"\n[plans.a]\nlimits = [{ name = \"x\", algorithm = \"fixed\", limit = 1, window = \"1s\" }]\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "p.toml:1: keys_file: ") || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("err = %v", err)
	}
}

func TestLocate(t *testing.T) {
	src := `# comment
a = 1
"quoted.key" = 'x'
b.c = """multi
line"""
[t]
arr = [
  1, # one
  { k = "v,}" },
]
[[aot]]
x = 1
[[aot]]
x = 2
`
	got := locate(src)
	for path, line := range map[string]int{
		"a": 2, "quoted.key": 3, "b": 4, "b.c": 4, "t": 6, "t.arr": 7, "t.arr[0]": 8, "t.arr[1]": 9, "t.arr[1].k": 9,
		"aot": 11, "aot[0]": 11, "aot[0].x": 12, "aot[1]": 13, "aot[1].x": 14,
	} {
		if got[path] != line {
			t.Errorf("line of %s = %d, want %d", path, got[path], line)
		}
	}
}

func TestNginxRate(t *testing.T) {
	for s, want := range map[string]int64{"1r/s": 1000, "10r/s": 10000, "30r/m": 500, "1r/m": 16, "60r/m": 1000} {
		if got, err := NginxRate(s); err != nil || got != want {
			t.Errorf("NginxRate(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "r/s", "0r/s", "-1r/s", "10r/h", "10", "1.5r/s", "+1r/s"} {
		if _, err := NginxRate(s); err == nil {
			t.Errorf("NginxRate(%q) accepted", s)
		}
	}
}

// Limits may be written as arrays of tables; a keys_file may start with
// a byte-order mark and carry no header.
func TestArrayOfTablesAndBOM(t *testing.T) {
	src := `default_plan = "a"
keys_file = "k.csv"

[[plans.a.limits]]
name = "x"
algorithm = "fixed"
limit = 1
window = "week"

[[plans.a.limits]]
name = "y"
algorithm = "leaky-bucket"
rate = 10
`
	files := map[string]string{"k.csv": "\ufeffk1,a,acct\nk2,a\n"}
	open := func(name string) (io.ReadCloser, error) {
		s, ok := files[name]
		if !ok {
			return nil, os.ErrNotExist
		}
		return io.NopCloser(strings.NewReader(s)), nil
	}
	_, _, err := Parse("p.toml", src, open)
	if err == nil || !strings.Contains(err.Error(), `p.toml:13: plans.a.limits[1].rate: want a string as nginx writes it`) {
		t.Fatalf("err = %v", err)
	}
	src = strings.Replace(src, "rate = 10", `rate = "10r/s"`, 1)
	pol, _, err := Parse("p.toml", src, open)
	if err != nil {
		t.Fatal(err)
	}
	if r := pol.Plans["a"].Rules; len(r) != 2 || r[0].Calendar != Week || r[1].NginxRate != 10_000 || r[1].Burst != 0 {
		t.Errorf("rules %+v", r)
	}
	if pol.KeyPlans["k1"] != "a" || pol.KeyAccounts["k1"] != "acct" || pol.KeyPlans["k2"] != "a" {
		t.Errorf("keys %v accounts %v", pol.KeyPlans, pol.KeyAccounts)
	}
}

// TestBillableStatus: billable_status names status classes; the default
// spelled out is the default (same digest), and anything the partial
// aggregate cannot count is an error at its line.
func TestBillableStatus(t *testing.T) {
	const plans = "\n[plans.p]\nlimits = [ { name = \"m\", algorithm = \"fixed\", limit = 1, window = \"month\" } ]\n"
	parse := func(setting string) (*Policy, error) {
		pol, _, err := Parse("p.toml", setting+plans, nil)
		return pol, err
	}
	def, err := parse("")
	if err != nil {
		t.Fatal(err)
	}
	same, err := parse(`billable_status = ["3xx", "2xx", "2xx"]`)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := def.Digest()
	d2, _ := same.Digest()
	if same.BillableStatus != nil || d1 != d2 {
		t.Errorf("the default spelled out: %v, digest %s vs %s", same.BillableStatus, d2, d1)
	}
	other, err := parse(`billable_status = ["2xx", "4xx"]`)
	if err != nil || !slices.Equal(other.BillableStatus, []string{"2xx", "4xx"}) {
		t.Errorf("2xx, 4xx: %v, %v", other.BillableStatus, err)
	}
	if d3, _ := other.Digest(); d3 == d1 {
		t.Error("billable_status does not change the digest")
	}
	for setting, want := range map[string]string{
		`billable_status = ["200"]`:        `p.toml:1: billable_status: billable status "200": want 2xx`,
		`billable_status = ["4xx", "429"]`: "429 is part of 4xx",
		`billable_status = []`:             "want a non-empty array",
		`billable_status = "2xx"`:          "want a non-empty array",
	} {
		if _, err := parse(setting); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", setting, err, want)
		}
	}
}
