// Package policy is keyrate's policy engine. A Policy names plans of
// rules (fixed, sliding, token-bucket and nginx leaky-bucket limits,
// optionally scoped by a request filter or counted per account) and
// assigns keys to plans and accounts. Evaluate replays every rule as an
// ideal gateway over the partial aggregates (package aggregate) and
// streams the report rows (package report/schema) to a Sink.
//
// Policies come from TOML policy files (Load, Parse: every problem is
// reported with its line) or from --limit flags (FromLimits).
package policy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// Error is one problem of a policy file (or of its keys_file).
//
// No message quotes a value of the file that may be a secret (a keys_file
// that is really a password list, a dotenv file given as the policy):
// they say where (line, column) and what was expected.
type Error struct {
	File string
	Line int    // 0 when unknown
	Path string // the TOML key path, e.g. plans.free.limits[2].window
	// Key is the API key the problem is about ("" for none), apart from
	// Path and Msg, for a caller that hides keys to show it its way
	// (Errors.ShowKeys).
	Key string
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Key != "" {
		b.WriteString("key " + strconv.Quote(e.Key) + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all the problems found in a policy, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// ShowKeys replaces the key each error names with show(key): the key
// display of the reports, so that errors leak no key they hide.
func (es Errors) ShowKeys(show func(string) string) {
	for _, e := range es {
		if e.Key != "" {
			e.Key = show(e.Key)
		}
	}
}

// tomlQuoted is a quoted excerpt of the document in a TOML parser's
// message ("found \"hunter2\" instead"): it may be a secret. Single
// characters ('=') are quoted in single quotes, and stay.
// Built on first use: a run with a valid policy never needs it.
var tomlQuoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"(?:[^"\\]|\\.)*"`) })

// Summary describes a valid policy, for 'keyrate policy check'.
type Summary struct {
	Plans        int
	Limits       int
	KeysAssigned int // distinct keys with an explicit plan
	Accounts     int
	DefaultPlan  string
}

// Load reads and compiles the policy file at path. A keys_file is read
// relative to the policy file's directory. Invalid policies return
// Errors.
func Load(path string) (*Policy, Summary, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Summary{}, err
	}
	return Parse(path, string(src), func(name string) (io.ReadCloser, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(path), name)
		}
		return os.Open(name)
	})
}

// Parse compiles a policy document named file. open reads its keys_file.
func Parse(file, src string, open func(string) (io.ReadCloser, error)) (*Policy, Summary, error) {
	var doc map[string]any
	_, err := toml.Decode(src, &doc)
	if err != nil {
		e := &Error{File: file, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// Not the text: a file given as the policy by mistake
			// (a dotenv file) holds secrets.
			e.Line = pe.Position.Line
			e.Msg = fmt.Sprintf("column %d: %s (not valid TOML)", pe.Position.Col, tomlQuoted().ReplaceAllString(pe.Message, "other text"))
		}
		return nil, Summary{}, Errors{e}
	}
	c := &compiler{file: file, lines: locate(src), open: open,
		pol:       &Policy{Plans: map[string]*Plan{}, KeyPlans: map[string]string{}, KeyAccounts: map[string]string{}},
		filterIDs: map[string]int{}}
	c.document(doc)
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *Error) int {
			if (a.File == file) != (b.File == file) { // the policy first, then its keys_file
				if a.File == file {
					return -1
				}
				return 1
			}
			return a.Line - b.Line
		})
		return nil, Summary{}, c.errs
	}
	return c.pol, c.summary, nil
}

type compiler struct {
	file      string
	lines     map[string]int
	open      func(string) (io.ReadCloser, error)
	pol       *Policy
	filterIDs map[string]int
	summary   Summary
	errs      Errors
}

func (c *compiler) errorf(path, format string, a ...any) {
	line, ok := c.lines[path]
	for p := path; !ok && p != ""; { // fall back to the nearest enclosing key
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
		line, ok = c.lines[p]
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func (c *compiler) str(path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		c.errorf(path, "want a string, got %s", typeName(v))
	}
	return s, ok
}

func (c *compiler) integer(path string, v any) (int64, bool) {
	n, ok := v.(int64)
	if !ok {
		c.errorf(path, "want an integer, got %s", typeName(v))
	}
	return n, ok
}

// list accepts TOML arrays (of any element type) and arrays of tables.
func list(v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i := range a {
			out[i] = a[i]
		}
		return out, true
	}
	return nil, false
}

func (c *compiler) document(doc map[string]any) {
	for _, k := range sortedKeys(doc) {
		switch k {
		case "default_plan", "keys_file", "billable_status", "plans", "keys":
		default:
			c.errorf(k, "unknown setting (want default_plan, keys_file, billable_status, [plans.NAME] or [keys])")
		}
	}
	plans, ok := doc["plans"].(map[string]any)
	switch {
	case doc["plans"] == nil:
		c.errs = append(c.errs, &Error{File: c.file, Line: 1, Msg: "no plans: define at least one [plans.NAME] with limits"})
	case !ok:
		c.errorf("plans", "want a table of plans, got %s", typeName(doc["plans"]))
	}
	for _, name := range sortedKeys(plans) {
		c.plan(name, plans[name])
	}
	if v, ok := doc["default_plan"]; ok {
		if s, ok := c.str("default_plan", v); ok {
			if c.pol.Plans[s] == nil && plans[s] == nil {
				c.errorf("default_plan", "unknown plan %q", s)
			}
			c.pol.DefaultPlan = s
			c.summary.DefaultPlan = s
		}
	}
	if v, ok := doc["billable_status"]; ok {
		c.billable(v)
	}
	if v, ok := doc["keys_file"]; ok {
		if s, ok := c.str("keys_file", v); ok {
			c.keysFile(s, plans)
		}
	}
	if v, ok := doc["keys"]; ok {
		c.keysTable(v, plans)
	}
	c.summary.KeysAssigned = len(c.pol.KeyPlans)
	accounts := map[string]bool{}
	for _, a := range c.pol.KeyAccounts {
		accounts[a] = true
	}
	c.summary.Accounts = len(accounts)
	c.summary.Plans = len(c.pol.Plans)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *compiler) plan(name string, v any) {
	path := "plans." + name
	t, ok := v.(map[string]any)
	if !ok {
		c.errorf(path, "want a table with limits = [...], got %s", typeName(v))
		return
	}
	for _, k := range sortedKeys(t) {
		if k != "limits" {
			c.errorf(path+"."+k, "unknown plan setting (want limits)")
		}
	}
	lims, ok := list(t["limits"])
	if !ok || len(lims) == 0 {
		if t["limits"] != nil && !ok {
			c.errorf(path+".limits", "want an array of limits, got %s", typeName(t["limits"]))
		} else {
			c.errorf(path, "plan has no limits")
		}
		return
	}
	plan := &Plan{Name: name}
	seen := map[string]string{}
	valid := true
	for i, lv := range lims {
		lpath := fmt.Sprintf("%s.limits[%d]", path, i)
		r, ok := c.limit(lpath, lv)
		if prev, dup := seen[r.Name]; dup && r.Name != "" {
			c.errorf(lpath+".name", "limit name %q already used by %s", r.Name, prev)
			ok = false
		} else if r.Name != "" {
			seen[r.Name] = lpath
		}
		if !ok {
			valid = false
			continue
		}
		plan.Rules = append(plan.Rules, r)
	}
	c.summary.Limits += len(lims)
	if valid {
		c.pol.Plans[name] = plan
	}
}

var limitFields = map[Algorithm][]string{
	Fixed:       {"limit", "window"},
	Sliding:     {"limit", "window"},
	TokenBucket: {"rate", "burst"},
	LeakyBucket: {"rate", "burst"},
}

var commonFields = []string{"name", "algorithm", "per", "methods", "paths", "exclude_status"}

// unknownLimitSetting says that k is no limit setting, and which one it
// may be a misspelling of.
func unknownLimitSetting(k string) string {
	known := slices.Concat(commonFields, limitFields[Fixed], limitFields[TokenBucket])
	best, bestD := "", 3 // at most 2 edits away
	for _, f := range known {
		if d := editDistance(k, f); d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		return "unknown limit setting (want " + strings.Join(known, ", ") + ")"
	}
	return "unknown limit setting (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance of a and b, bytewise.
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// limit compiles one limit table.
func (c *compiler) limit(path string, v any) (Rule, bool) {
	r := Rule{Filter: -1}
	t, ok := v.(map[string]any)
	if !ok {
		c.errorf(path, "want a limit table { name = ..., algorithm = ..., ... }, got %s", typeName(v))
		return r, false
	}
	n := len(c.errs)
	if nv, ok := t["name"]; !ok {
		c.errorf(path, "limit has no name")
	} else if s, ok := c.str(path+".name", nv); ok {
		if s == "" {
			c.errorf(path+".name", "name is empty")
		}
		r.Name = s
	}
	alg, ok := t["algorithm"]
	if !ok {
		// A misspelt setting ("algoritm") is named, not only the
		// missing one.
		for _, k := range sortedKeys(t) {
			if !slices.Contains(commonFields, k) && !slices.ContainsFunc(slices.Collect(maps.Values(limitFields)), func(f []string) bool { return slices.Contains(f, k) }) {
				c.errorf(path+"."+k, "%s", unknownLimitSetting(k))
			}
		}
		c.errorf(path, "limit has no algorithm (want fixed, sliding, token-bucket or leaky-bucket)")
		return r, false
	}
	as, ok := c.str(path+".algorithm", alg)
	if !ok {
		return r, false
	}
	r.Algorithm = Algorithm(as)
	fields, ok := limitFields[r.Algorithm]
	if !ok {
		c.errorf(path+".algorithm", "unknown algorithm %q (want fixed, sliding, token-bucket or leaky-bucket)", as)
		return r, false
	}
	for _, k := range sortedKeys(t) {
		if slices.Contains(fields, k) || slices.Contains(commonFields, k) {
			continue
		}
		if slices.ContainsFunc([]Algorithm{Fixed, TokenBucket}, func(a Algorithm) bool { return slices.Contains(limitFields[a], k) }) {
			c.errorf(path+"."+k, "%s does not apply to %s limits (they take %s)", k, as, strings.Join(fields, " and "))
		} else {
			c.errorf(path+"."+k, "%s", unknownLimitSetting(k))
		}
	}
	switch r.Algorithm {
	case Fixed, Sliding:
		c.countAndWindow(path, t, &r)
	case TokenBucket:
		if rv, ok := t["rate"]; !ok {
			c.errorf(path, "token-bucket limit needs rate (tokens per second)")
		} else {
			var rate float64
			switch x := rv.(type) {
			case int64:
				rate = float64(x)
			case float64:
				rate = x
			default:
				c.errorf(path+".rate", "want a number of tokens per second, got %s", typeName(rv))
				rate = math.NaN()
			}
			if !math.IsNaN(rate) {
				if m, ok := RateMicroOf(rate); ok {
					r.RateMicro = m
				} else {
					c.errorf(path+".rate", "rate %g: want a positive number of tokens per second, at most 1e9, with at most 6 decimals", rate)
				}
			}
		}
		if bv, ok := t["burst"]; !ok {
			c.errorf(path, "token-bucket limit needs burst (the bucket's capacity)")
		} else if b, ok := c.integer(path+".burst", bv); ok {
			if b < 1 || b > MaxBurst {
				c.errorf(path+".burst", "burst %d: want 1 to %d", b, MaxBurst)
			}
			r.Burst = b
		}
	case LeakyBucket:
		if rv, ok := t["rate"]; !ok {
			c.errorf(path, `leaky-bucket limit needs rate, as nginx writes it: "10r/s" or "30r/m"`)
		} else if s, ok := rv.(string); !ok {
			c.errorf(path+".rate", `want a string as nginx writes it, "10r/s" or "30r/m"; got %s`, typeName(rv))
		} else {
			if nr, err := NginxRate(s); err != nil {
				c.errorf(path+".rate", "%v", err)
			} else {
				r.NginxRate = nr
			}
		}
		if bv, ok := t["burst"]; ok { // nginx's default burst is 0
			if b, ok := c.integer(path+".burst", bv); ok {
				if b < 0 || b > MaxBurst {
					c.errorf(path+".burst", "burst %d: want 0 to %d", b, MaxBurst)
				}
				r.Burst = b
			}
		}
	}
	if pv, ok := t["per"]; ok {
		if s, ok := c.str(path+".per", pv); ok {
			switch s {
			case "key":
			case "account":
				r.PerAccount = true
			default:
				c.errorf(path+".per", `per %q: want "key" or "account"`, s)
			}
		}
	}
	c.filter(path, t, &r)
	if len(c.errs) > n {
		return r, false
	}
	if err := r.Validate(); err != nil { // a guard: the checks above should cover it
		c.errorf(path, "%v", err)
		return r, false
	}
	return r, true
}

// billable reads billable_status: the status classes the usage table
// bills. The default's own spelling is stored as the default (nil), so
// that writing it out does not change the policy's digest.
func (c *compiler) billable(v any) {
	a, ok := list(v)
	if !ok || len(a) == 0 {
		c.errorf("billable_status", `want a non-empty array of status classes, as in ["2xx", "3xx"]`)
		return
	}
	var classes []string
	for i, e := range a {
		if s, ok := c.str(fmt.Sprintf("billable_status[%d]", i), e); ok {
			if !slices.Contains(classes, s) {
				classes = append(classes, s)
			}
		}
	}
	slices.Sort(classes)
	if _, err := billableClasses(classes); err != nil {
		c.errorf("billable_status", "%v", err)
		return
	}
	if !slices.Equal(classes, DefaultBillable) {
		c.pol.BillableStatus = classes
	}
}

// countAndWindow reads the limit and window of fixed and sliding limits.
func (c *compiler) countAndWindow(path string, t map[string]any, r *Rule) {
	if lv, ok := t["limit"]; !ok {
		c.errorf(path, "%s limit needs limit (requests per window)", r.Algorithm)
	} else if n, ok := c.integer(path+".limit", lv); ok {
		if n < 0 {
			c.errorf(path+".limit", "limit %d: want 0 or more requests", n)
		}
		r.Limit = n
	}
	wv, ok := t["window"]
	if !ok {
		c.errorf(path, `%s limit needs window, as in "1m", "1h" or "day"`, r.Algorithm)
		return
	}
	s, ok := c.str(path+".window", wv)
	if !ok {
		return
	}
	switch cal := Calendar(s); cal {
	case Day, Week, Month, Year:
		if r.Algorithm == Sliding {
			c.errorf(path+".window", "window %q: a sliding window is a duration, as in \"24h\"; calendar windows are fixed", s)
			return
		}
		r.Calendar = cal
		return
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.errorf(path+".window", `window %q: want a duration such as "1s", "5m", "24h", or day, week, month, year`, s)
	case d < time.Millisecond || d%time.Millisecond != 0:
		c.errorf(path+".window", "window %q: want a positive whole number of milliseconds", s)
	default:
		r.WindowMillis = d.Milliseconds()
	}
}

// filter reads a limit's scope and status exclusions.
func (c *compiler) filter(path string, t map[string]any, r *Rule) {
	var f RequestFilter
	strs := func(key string, check func(string) string) []string {
		v, ok := t[key]
		if !ok {
			return nil
		}
		a, ok := list(v)
		if !ok || len(a) == 0 {
			c.errorf(path+"."+key, "want a non-empty array of strings")
			return nil
		}
		var out []string
		for i, e := range a {
			s, ok := c.str(fmt.Sprintf("%s.%s[%d]", path, key, i), e)
			if !ok {
				continue
			}
			if msg := check(s); msg != "" {
				c.errorf(fmt.Sprintf("%s.%s[%d]", path, key, i), "%s", msg)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	f.Methods = strs("methods", func(s string) string {
		if s == "" || strings.ToUpper(s) != s || strings.ContainsAny(s, " \t/") {
			return fmt.Sprintf("method %q: want an upper-case HTTP method such as GET or POST", s)
		}
		return ""
	})
	f.Paths = strs("paths", func(s string) string {
		if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "*") {
			return fmt.Sprintf("path %q: want a path glob starting with / (or *), as in \"/v1/search*\"", s)
		}
		return ""
	})
	if v, ok := t["exclude_status"]; ok {
		a, ok := list(v)
		if !ok || len(a) == 0 {
			c.errorf(path+".exclude_status", "want a non-empty array of HTTP statuses")
		}
		for i, e := range a {
			p := fmt.Sprintf("%s.exclude_status[%d]", path, i)
			if n, ok := c.integer(p, e); ok {
				if n < 100 || n > 599 {
					c.errorf(p, "status %d: want 100 to 599", n)
					continue
				}
				f.ExcludeStatus = append(f.ExcludeStatus, int(n))
			}
		}
	}
	if f.IsZero() {
		return
	}
	key := f.Canonical()
	id, ok := c.filterIDs[key]
	if !ok {
		id = len(c.pol.Filters)
		c.filterIDs[key] = id
		c.pol.Filters = append(c.pol.Filters, f)
	}
	r.Filter = id
}

// NginxRate parses an nginx limit_req_zone rate ("10r/s", "30r/m") into
// nginx's internal ctx->rate: requests per second times 1000, computed
// with nginx's integer division.
func NginxRate(s string) (int64, error) {
	scale := int64(0)
	num := s
	switch {
	case strings.HasSuffix(s, "r/s"):
		scale, num = 1, s[:len(s)-3]
	case strings.HasSuffix(s, "r/m"):
		scale, num = 60, s[:len(s)-3]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if scale == 0 || err != nil || n <= 0 || num[0] == '+' {
		return 0, fmt.Errorf(`rate %q: want N r/s or N r/m as nginx writes it, as in "10r/s" or "30r/m"`, s)
	}
	if n > 1_000_000_000 {
		return 0, fmt.Errorf("rate %q: at most 1000000000 requests", s)
	}
	return n * 1000 / scale, nil
}

// keysTable reads [keys]: "KEY" = "PLAN" or "KEY" = { plan = "PLAN",
// account = "ACCOUNT" }. It wins over keys_file.
func (c *compiler) keysTable(v any, plans map[string]any) {
	t, ok := v.(map[string]any)
	if !ok {
		c.errorf("keys", "want a table of \"KEY\" = \"PLAN\", got %s", typeName(v))
		return
	}
	for _, key := range sortedKeys(t) {
		path := "keys." + key
		n := len(c.errs)
		switch x := t[key].(type) {
		case string:
			c.assign(path, key, x, plans)
		case map[string]any:
			for _, k := range sortedKeys(x) {
				if k != "plan" && k != "account" {
					c.errorf(path+"."+k, "unknown key setting (want plan, account)")
				}
			}
			if p, ok := x["plan"]; ok {
				if s, ok := c.str(path+".plan", p); ok {
					c.assign(path+".plan", key, s, plans)
				}
			}
			if a, ok := x["account"]; ok {
				if s, ok := c.str(path+".account", a); ok {
					c.pol.KeyAccounts[key] = s
				}
			}
		default:
			c.errorf(path, "want a plan name or { plan = ..., account = ... }, got %s", typeName(t[key]))
		}
		for _, e := range c.errs[n:] { // the key apart (Error.Key)
			if rest, ok := strings.CutPrefix(e.Path, path); ok {
				e.Path, e.Key = "keys"+rest, key
			}
		}
	}
}

func (c *compiler) assign(path, key, plan string, plans map[string]any) {
	if plans[plan] == nil {
		c.errorf(path, "%s", unknownPlan(plans))
		return
	}
	c.pol.KeyPlans[key] = plan
}

// unknownPlan says a plan name is none of plans, naming them (never the
// value, which may be a secret in the wrong column).
func unknownPlan(plans map[string]any) string {
	return "unknown plan (want " + strings.Join(sortedKeys(plans), ", ") + ")"
}

// keysFile reads the CSV key,plan[,account]; a first row "key,plan..." is
// a header. Problems are reported with the CSV file's own line numbers.
func (c *compiler) keysFile(name string, plans map[string]any) {
	f, err := c.open(name)
	if err != nil {
		c.errorf("keys_file", "%v", err)
		return
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true
	shown := name
	if !filepath.IsAbs(name) {
		shown = filepath.Join(filepath.Dir(c.file), name)
	}
	fileErr := func(line int, format string, a ...any) {
		c.errs = append(c.errs, &Error{File: shown, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	keyErr := func(line int, key, format string, a ...any) {
		fileErr(line, format, a...)
		c.errs[len(c.errs)-1].Key = key
	}
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				fileErr(pe.Line, "column %d: %v", pe.Column, pe.Err)
			} else {
				fileErr(0, "%v", err)
			}
			return
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if first && len(rec) > 0 { // spreadsheets often start CSV exports with a BOM
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
		}
		if first && len(rec) >= 2 && strings.EqualFold(rec[0], "key") && strings.EqualFold(rec[1], "plan") {
			continue
		}
		if len(rec) < 2 || len(rec) > 3 {
			fileErr(line, "want key,plan or key,plan,account; got %d fields", len(rec))
			continue
		}
		key, plan := rec[0], rec[1]
		if key == "" {
			fileErr(line, "empty key")
			continue
		}
		if plans[plan] == nil {
			// Not quoted: a file of name,password rows is no keys file,
			// and its second column a secret.
			keyErr(line, key, "column 2: %s", unknownPlan(plans))
			continue
		}
		if prev, ok := c.pol.KeyPlans[key]; ok && prev != plan {
			keyErr(line, key, "plan %q conflicts with plan %q given earlier", plan, prev)
			continue
		}
		c.pol.KeyPlans[key] = plan
		if len(rec) == 3 && rec[2] != "" {
			if prev, ok := c.pol.KeyAccounts[key]; ok && prev != rec[2] {
				keyErr(line, key, "column 3: another account than the one given earlier")
				continue
			}
			c.pol.KeyAccounts[key] = rec[2]
		}
	}
}
