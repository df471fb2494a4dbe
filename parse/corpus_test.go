package parse

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// corpusDir is ../shared/corpus relative to the repository root.
func corpusDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real-log corpus not found at %s (it lives beside the repository as ../shared/corpus): %v", dir, err)
	}
	return dir
}

// corpusExpect is what reading one corpus file with --format auto must
// give: the detected format, how many lines hold no request (headers,
// start-up notices), and every line that does not parse, with a reason.
type corpusExpect struct {
	format    string
	skipped   int
	malformed map[int64]string // line number → substring of the error
}

var corpusExpectations = map[string]corpusExpect{
	"alb-beats-application-lb.log":                  {format: "alb"},
	"alb-beats-aws-doc-examples.log":                {format: "alb"},
	"apache-ssl-request-beats.log":                  {format: "apache_ssl_request"},
	"caddy-lnav-2.log":                              {format: "json"},
	"caddy-lnav-compose.log":                        {format: "json", skipped: 35}, // Caddy start-up/runtime messages, not access entries
	"cloudfront-elastic-integrations.log":           {format: "cloudfront", skipped: 2, malformed: map[int64]string{14: "31 values but #Fields lists 33"}},
	"combined-elastic-examples.log":                 {format: "combined"},
	"combined-lnav-bad-request.log":                 {format: "combined"},
	"combined-lnav-gpxe.log":                        {format: "combined"},
	"combined-lnav-malformed.log":                   {format: "combined", malformed: map[int64]string{2: "expected host, ident and user"}},
	"combined-mixed-beats-apache.log":               {format: "combined"},
	"combined-vhost-elastic-integrations-nginx.log": {format: "combined"},
	"combined-xff-lnav-shop.log":                    {format: "combined"},
	"common-beats-apache-darwin.log":                {format: "common"},
	"common-nasa-aug95.log":                         {format: "common"},
	"haproxy-beats-mixed.log":                       {format: "haproxy"},
	"haproxy-httplog-beats.log":                     {format: "haproxy"},
	"haproxy-lnav-syslog.log":                       {format: "haproxy", skipped: 4}, // 3 "Proxy started", 1 SSL handshake failure
	"iis-advanced-lnav.log":                         {format: "w3c", skipped: 4},
	"iis-w3c-beats-azure.log":                       {format: "w3c", skipped: 2},
	"iis-w3c-beats-ipv6zone.log":                    {format: "w3c", skipped: 4},
	// The last two lines are exploit probes written with another layout
	// than the #Fields header in force.
	"iis-w3c-beats.log":               {format: "w3c", skipped: 12, malformed: map[int64]string{16: "15 values but #Fields lists 22", 17: "15 values but #Fields lists 22"}},
	"iis-w3c-lnav-big.log":            {format: "w3c", skipped: 44},
	"iis-w3c-lnav-field-mismatch.log": {format: "w3c", skipped: 1, malformed: map[int64]string{2: "17 values but #Fields lists 6"}},
	"iis-w3c-lnav-multiheader.log":    {format: "w3c", skipped: 4},
	// A custom nginx layout without ident/user: auto detection falls back
	// to the loose CLF reader (time, request, status); --log-format reads
	// every field (TestCorpusCustomLayout).
	"nginx-custom-gonx.log":                 {format: "clf_loose"},
	"nginx-host-prefix-xff-beats.log":       {format: "vhost_combined"},
	"nginx-xff-beats.log":                   {format: "combined"},
	"traefik-clf-beats.log":                 {format: "combined"},
	"traefik-json-elastic-integrations.log": {format: "json"},
	"vhost_combined-beats-apache.log":       {format: "vhost_combined"},
	"vhost_combined-lnav-jira.log":          {format: "vhost_combined"},
	"w3c-oracle-webcache-lnav.log":          {format: "w3c", skipped: 6},
}

type corpusResult struct {
	format                 string
	lines, parsed, skipped int64
	malformed              map[int64]string
}

// readCorpusFile reads path (a plain file) the way the pipeline does: detect
// the format from the first 64 KiB, then parse line by line.
func readCorpusFile(t *testing.T, path string, o FormatOptions, check func(*Record)) corpusResult {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, atEOF := data, true
	if len(head) > 64<<10 {
		head, atEOF = head[:64<<10], false
	}
	var f Format
	if o.LogFormat != "" {
		f, err = LookupFormat("", o)
	} else {
		f, err = new(Detector).Detect(head, atEOF, o)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	res := corpusResult{format: f.Name, malformed: map[int64]string{}}
	p := f.New()
	var rec Record
	for rest, n := data, int64(1); len(rest) > 0; n++ {
		var line []byte
		line, rest = NextLine(rest)
		if LineTooLong(line, DefaultMaxLineBytes) {
			t.Fatalf("%s:%d: %v", path, n, ErrLineTooLong)
		}
		line = TrimPadding(line)
		res.lines++
		if len(line) == 0 {
			continue
		}
		switch err := p.Parse(line, &rec); {
		case err == nil:
			res.parsed++
			if check != nil {
				check(&rec)
			}
		case errors.Is(err, ErrNoRecord):
			res.skipped++
		default:
			res.malformed[n] = err.Error()
		}
	}
	return res
}

func TestCorpusAuto(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", dir, err)
	}
	var parsed, malformed int64
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		exp, ok := corpusExpectations[name]
		if !ok {
			t.Errorf("%s: new corpus file without expectations; add it to corpusExpectations", name)
			continue
		}
		res := readCorpusFile(t, path, FormatOptions{}, func(rec *Record) {
			// Every parsed record has a plausible time and status.
			if y := time.UnixMilli(rec.TimeMillis).UTC().Year(); y < 1995 || y > 2030 {
				t.Errorf("%s: implausible time %v", name, time.UnixMilli(rec.TimeMillis).UTC())
			}
			if rec.Status != 0 && (rec.Status < 100 || rec.Status > 599) {
				t.Errorf("%s: implausible status %d", name, rec.Status)
			}
		})
		if res.format != exp.format {
			t.Errorf("%s: detected %q, want %q", name, res.format, exp.format)
		}
		if res.skipped != int64(exp.skipped) {
			t.Errorf("%s: %d lines skipped, want %d", name, res.skipped, exp.skipped)
		}
		for line, reason := range res.malformed {
			want, listed := exp.malformed[line]
			switch {
			case !listed:
				t.Errorf("%s:%d: unexpected malformed line: %s", name, line, reason)
			case !strings.Contains(reason, want):
				t.Errorf("%s:%d: reason %q, want it to mention %q", name, line, reason, want)
			}
		}
		for line := range exp.malformed {
			if _, ok := res.malformed[line]; !ok {
				t.Errorf("%s:%d: expected to be malformed, but it parsed", name, line)
			}
		}
		if res.parsed == 0 && len(exp.malformed) == 0 {
			t.Errorf("%s: nothing parsed", name)
		}
		parsed += res.parsed
		malformed += int64(len(res.malformed))
	}
	for name := range corpusExpectations {
		if !seen[name] {
			t.Errorf("%s: expected in the corpus but missing", name)
		}
	}
	if ratio := float64(parsed) / float64(parsed+malformed); ratio < 0.999 {
		t.Errorf("%d of %d request lines parsed (%.4f), want at least 99.9%%", parsed, parsed+malformed, ratio)
	}
	t.Logf("%d corpus files: %d request lines parsed, %d malformed (all listed)", len(files), parsed, malformed)
}

// TestCorpusCustomLayout reads the gonx file with the nginx log_format
// it was written with.
func TestCorpusCustomLayout(t *testing.T) {
	path := filepath.Join(corpusDir(t), "nginx-custom-gonx.log")
	layout := `$remote_addr [$time_local] "$request" $status $request_length $body_bytes_sent $request_time "$t_size" $read_time $gen_time`
	var withBytes, withSize int
	res := readCorpusFile(t, path, FormatOptions{LogFormat: layout}, func(rec *Record) {
		if rec.Bytes > 0 {
			withBytes++
		}
		if len(rec.Field("t_size")) > 0 && len(rec.Field("gen_time")) > 0 && len(rec.Field("request_length")) > 0 {
			withSize++
		}
	})
	if res.format != FormatLayout || res.parsed != res.lines || len(res.malformed) != 0 {
		t.Fatalf("format %s: %d of %d parsed, malformed %v", res.format, res.parsed, res.lines, res.malformed)
	}
	if withBytes < int(res.parsed)*9/10 || withSize != int(res.parsed) {
		t.Errorf("bytes on %d and custom fields on %d of %d lines", withBytes, withSize, res.parsed)
	}
	// First line: 112.162.114.78 [10/Sep/2015:17:57:59 +0000] "GET /t/x100/a2/a8/6806ed71570139f1656554d94bbb.jpeg HTTP/1.1" 200 363 7013 0.138 "x100" 92 42
	var first *Record
	readCorpusFile(t, path, FormatOptions{LogFormat: layout}, func(rec *Record) {
		if first == nil {
			// Record slices alias the reader's buffer: copy what is kept.
			r := Record{Status: rec.Status, Bytes: rec.Bytes}
			for _, f := range rec.Fields {
				r.Fields = append(r.Fields, Field{Name: f.Name, Value: append([]byte(nil), f.Value...)})
			}
			first = &r
		}
	})
	if first.Bytes != 7013 || first.Status != 200 || string(first.Field("request_length")) != "363" || string(first.Field("t_size")) != "x100" {
		t.Errorf("first record: bytes %d status %d fields %v", first.Bytes, first.Status, first.Fields)
	}
}

type peerCase struct {
	Format string         `json:"format"`
	Line   string         `json:"line"`
	Expect map[string]any `json:"expect"`
	Source string         `json:"source"`
}

// TestPeerCases checks the expected parses from other parsers' test
// suites: each line is detected on its own (--format auto) and every
// stated field must match.
func TestPeerCases(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir(t), "peer-cases", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no peer cases")
	}
	n := 0
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c peerCase
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			n++
			checkPeerCase(t, c)
		}
		f.Close()
	}
	t.Logf("%d peer cases", n)
}

func checkPeerCase(t *testing.T, c peerCase) {
	t.Helper()
	// The other parsers' "time" is the time as written (an ALB entry's
	// first field, not its request_creation_time).
	f, err := new(Detector).Detect([]byte(c.Line), true, FormatOptions{Time: TimeLogged})
	if err != nil {
		t.Errorf("%s: %v", c.Source, err)
		return
	}
	var rec Record
	if err := f.New().Parse([]byte(c.Line), &rec); err != nil {
		t.Errorf("%s (%s as %s): %v", c.Source, c.Format, f.Name, err)
		return
	}
	keys := make([]string, 0, len(c.Expect))
	for k := range c.Expect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.Expect[k]
		var got, want string
		switch k {
		case "time":
			wt, err := time.Parse(time.RFC3339Nano, v.(string))
			if err != nil {
				t.Fatalf("%s: bad expected time %v", c.Source, v)
			}
			got, want = time.UnixMilli(rec.TimeMillis).UTC().Format(time.RFC3339Nano), wt.Truncate(time.Millisecond).UTC().Format(time.RFC3339Nano)
		case "method":
			got, want = string(rec.Method), v.(string)
		case "path":
			got, want = string(rec.Path()), v.(string)
		case "remote_addr":
			got, want = string(rec.RemoteAddr), v.(string)
		case "status":
			got, want = formatAny(rec.Status), formatAny(v)
		case "bytes":
			got, want = formatAny(rec.Bytes), formatAny(v)
		default:
			t.Errorf("%s: unknown expected field %q", c.Source, k)
			continue
		}
		if got != want {
			t.Errorf("%s (%s as %s): %s = %q, want %q", c.Source, c.Format, f.Name, k, got, want)
		}
	}
}

func formatAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCorpusLayoutsMatchCombined compiles the combined format from its
// nginx and Apache definitions and checks that, on every real combined
// line, the compiled layouts and the hand-written parser agree.
func TestCorpusLayoutsMatchCombined(t *testing.T) {
	dir := corpusDir(t)
	layouts := map[string]string{
		"nginx":  `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`,
		"apache": `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"`,
	}
	for _, file := range []string{"combined-elastic-examples.log", "combined-xff-lnav-shop.log", "combined-lnav-gpxe.log"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for name, spec := range layouts {
			l, err := CompileLayout(spec)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				var want, got Record
				if err := (Combined{}).Parse([]byte(line), &want); err != nil {
					t.Fatalf("%s:%d: combined: %v", file, i+1, err)
				}
				if err := l.Parse([]byte(line), &got); err != nil {
					t.Errorf("%s:%d: %s layout: %v", file, i+1, name, err)
					continue
				}
				// The layout drops "-" for an empty user; Combined keeps it.
				if isDash(want.User) {
					want.User = nil
				}
				if isDash(want.Referer) {
					want.Referer = nil
				}
				if isDash(want.UserAgent) {
					want.UserAgent = nil
				}
				if d := diffRecords(&want, &got); d != "" {
					t.Errorf("%s:%d: %s layout differs from combined: %s", file, i+1, name, d)
				}
				n++
			}
			if n == 0 {
				t.Errorf("%s: no lines compared", file)
			}
		}
	}
}

// TestCorpusApacheVhostLayout reads the Jira vhost log with the Apache
// LogFormat that wrote it (vhost_combined plus %D).
func TestCorpusApacheVhostLayout(t *testing.T) {
	path := filepath.Join(corpusDir(t), "vhost_combined-lnav-jira.log")
	layout := `%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\" %D`
	var users, durations []string
	res := readCorpusFile(t, path, FormatOptions{LogFormat: layout}, func(rec *Record) {
		users = append(users, string(rec.User))
		durations = append(durations, string(rec.Field("duration_us"))+"@"+string(rec.Field("vhost"))+":"+string(rec.Field("port")))
	})
	if res.parsed != 2 || len(res.malformed) != 0 {
		t.Fatalf("parsed %d, malformed %v", res.parsed, res.malformed)
	}
	if strings.Join(users, ",") != "jsmith,khenry" || strings.Join(durations, ",") != "116075@localhost:443,156302@localhost:443" {
		t.Errorf("users %v, durations %v", users, durations)
	}
}
