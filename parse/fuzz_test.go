package parse

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Fuzz targets: every parser must return a record or an error for any
// input, never panic; parsed records must hold slices into the line or
// the parser's scratch. Seeds come from testdata/seeds and, when present,
// the first lines of the matching real logs in ../shared/corpus.
//
// CI runs each briefly, with an execution count rather than a duration
// (a duration -fuzztime can fail spuriously under load with Go 1.26,
// golang/go#75804):
//
//	for f in $(go test -list 'Fuzz.*' ./parse | grep ^Fuzz); do
//	  go test ./parse -run '^$' -fuzz "^$f\$" -fuzztime 20000x || exit 1
//	done

func seedLines(f *testing.F, seedFile, corpusGlob string) {
	f.Helper()
	add := func(path string, limit int) {
		fh, err := os.Open(path)
		if err != nil {
			return
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for n := 0; sc.Scan() && n < limit; n++ {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
	add(filepath.Join("testdata", "seeds", seedFile), 1000)
	if corpusGlob != "" {
		_, file, _, _ := runtime.Caller(0)
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", corpusGlob))
		for _, m := range matches {
			add(m, 20)
		}
	}
}

// parseChecked runs p and checks invariants common to every parser.
func parseChecked(t *testing.T, p LineParser, line []byte, rec *Record) error {
	t.Helper()
	err := p.Parse(line, rec)
	if err == nil && rec.HasRequest && len(rec.Target) == 0 {
		t.Fatalf("HasRequest with an empty target for %q", line)
	}
	if err == nil && (rec.Status < 0 || rec.Status > 999 || rec.Bytes < 0) {
		t.Fatalf("status %d bytes %d for %q", rec.Status, rec.Bytes, line)
	}
	if err == nil && rec.TimeSource == nil {
		t.Fatalf("no time source for %q", line)
	}
	return err
}

// FuzzCombined also checks the round trip: a line that parses, written
// back with appendCombined, parses to the same record; and that a parser
// with a time cache (and its fast path for the time field), parsing the
// line twice (a cache miss, then a hit), reads what one without does.
func FuzzCombined(f *testing.F) {
	seedLines(f, "combined.txt", "combined-*.log")
	seedLines(f, "combined.txt", "nginx-*.log")
	// The time fast path once read past the first "[" of "[[".
	f.Add([]byte(`10.0.0.2 10.0.0.1 - - [[01/Nov/2026:00:00:01 +0000] "GET /?api_key=k HTTP/1.1" 200 1 "-" "-"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec, again Record
		err := parseChecked(t, Combined{}, line, &rec)
		cached := NewCombined()
		for range 2 {
			cerr := cached.Parse(line, &again)
			if fmt.Sprint(cerr) != fmt.Sprint(err) {
				t.Fatalf("%q: with a time cache %v, without %v", line, cerr, err)
			}
			if d := diffRecords(&rec, &again); err == nil && d != "" {
				t.Fatalf("%q: with a time cache: %s", line, d)
			}
		}
		if err != nil {
			return
		}
		if y := time.UnixMilli(rec.TimeMillis).UTC().Year(); y < 0 || y > 9999 {
			return // not representable in CLF
		}
		out := appendCombined(nil, &rec)
		if err := (Combined{}).Parse(out, &again); err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", out, line, err)
		}
		if d := diffRecords(&rec, &again); d != "" {
			t.Fatalf("round trip of %q via %q: %s", line, out, d)
		}
	})
}

func diffRecords(a, b *Record) string {
	var d []string
	cmp := func(name string, x, y []byte) {
		if !bytes.Equal(x, y) {
			d = append(d, name+": "+string(x)+" != "+string(y))
		}
	}
	cmp("method", a.Method, b.Method)
	cmp("target", a.Target, b.Target)
	cmp("proto", a.Proto, b.Proto)
	cmp("remote", a.RemoteAddr, b.RemoteAddr)
	cmp("user", a.User, b.User)
	cmp("referer", a.Referer, b.Referer)
	cmp("ua", a.UserAgent, b.UserAgent)
	cmp("vhost", a.Field("vhost"), b.Field("vhost"))
	if a.TimeMillis != b.TimeMillis || a.Status != b.Status || a.Bytes != b.Bytes || a.HasRequest != b.HasRequest {
		d = append(d, "time/status/bytes/hasRequest differ")
	}
	return strings.Join(d, "; ")
}

func FuzzCommon(f *testing.F) {
	seedLines(f, "combined.txt", "common-*.log")
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		if parseChecked(t, Common{}, line, &rec) == nil {
			// Whatever Common accepts, Combined accepts identically.
			var c Record
			if err := (Combined{}).Parse(line, &c); err != nil || diffRecords(&rec, &c) != "" {
				t.Fatalf("Common and Combined disagree on %q: %v", line, err)
			}
		}
	})
}

func FuzzVhostCombined(f *testing.F) {
	seedLines(f, "combined.txt", "vhost_combined-*.log")
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		if parseChecked(t, VhostCombined{}, line, &rec) == nil && rec.Field("vhost") == nil {
			t.Fatalf("vhost_combined record without vhost for %q", line)
		}
	})
}

func FuzzJSONLines(f *testing.F) {
	seedLines(f, "json.txt", "caddy-*.log")
	seedLines(f, "json.txt", "traefik-json-*.log")
	p := NewJSONLines(map[string]string{RoleUser: "u"}, []string{"http_x_api_key", "api_key"})
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		parseChecked(t, p, line, &rec)
	})
}

// FuzzW3C feeds the lines of each input in order to one parser, so
// header changes mid-file are explored.
func FuzzW3C(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "seeds", "w3c.txt"))
	f.Add(data)
	_, file, _, _ := runtime.Caller(0)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "*w3c*.log"))
	for _, m := range append(matches, filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus", "cloudfront-elastic-integrations.log")) {
		if d, err := os.ReadFile(m); err == nil && len(d) < 8<<10 {
			f.Add(d)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewW3C()
		var rec Record
		for _, line := range bytes.Split(data, []byte("\n")) {
			parseChecked(t, p, line, &rec)
		}
	})
}

func FuzzALB(f *testing.F) {
	seedLines(f, "alb.txt", "alb-*.log")
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		parseChecked(t, ALB{}, line, &rec)
	})
}

func FuzzHAProxy(f *testing.F) {
	seedLines(f, "haproxy.txt", "haproxy-*.log")
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		parseChecked(t, HAProxy{}, line, &rec)
	})
}

// FuzzLayoutLine parses lines with fixed nginx and Apache layouts.
func FuzzLayoutLine(f *testing.F) {
	seedLines(f, "layout.txt", "nginx-custom-*.log")
	layouts := []*Layout{
		mustLayout(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_api_key"`),
		mustLayout(`%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{X-Api-Key}i %{sid}C`),
		mustLayout(`$time_iso8601|$request_method|$request_uri|$args|$status`),
		mustLayout(`$remote_addr [$time_local] "$request" $status $request_length $body_bytes_sent $request_time "$t_size" $read_time $gen_time`),
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		for _, l := range layouts {
			parseChecked(t, l, line, &rec)
		}
	})
}

// FuzzCompileLayout compiles arbitrary layout strings and parses a line
// with whatever compiles.
func FuzzCompileLayout(f *testing.F) {
	f.Add(`$remote_addr - $remote_user [$time_local] "$request" $status`, `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200`)
	f.Add(`%h %l %u %t \"%r\" %>s %b %{X}i`, `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 - x`)
	f.Add(`${msec} %% $status`, `1700000000.123 % 200`)
	f.Add(envoyLayout, `[2026-11-24T09:14:03.780Z] "GET /v2/orders?api_key=k HTTP/1.1" 200 - 0 150 211 208 "203.0.113.21" "okhttp/4.12.0" "f3" "api.example.com" "10.12.3.28:8080"`)
	f.Add(`%START_TIME(%s.%3f)% "%REQ(X-API-KEY):8%" %DYNAMIC_METADATA(a:b)%`, `1795511643.217 "k" x`)
	f.Fuzz(func(t *testing.T, layout, line string) {
		l, err := CompileLayout(layout)
		if err != nil {
			return
		}
		var rec Record
		parseChecked(t, l, []byte(line), &rec)
	})
}

// FuzzDetectFormat runs detection (and so every built-in parser) on
// arbitrary heads.
func FuzzDetectFormat(f *testing.F) {
	for _, s := range []string{"combined.txt", "json.txt", "w3c.txt", "alb.txt", "haproxy.txt", "layout.txt", "envoy.txt"} {
		if d, err := os.ReadFile(filepath.Join("testdata", "seeds", s)); err == nil {
			f.Add(d, true)
		}
	}
	f.Fuzz(func(t *testing.T, head []byte, atEOF bool) {
		fm, err := new(Detector).Detect(head, atEOF, FormatOptions{})
		if err == nil && fm.New() == nil {
			t.Fatal("detected format without a parser")
		}
	})
}

func FuzzTimes(f *testing.F) {
	for _, s := range []string{"10/Oct/2000:13:55:36 -0700", "2018-07-02T22:23:00.186641Z", "2024-01-02 03:04:05+01:00",
		"1716723772.6014807", "1700000000123", "30/Jul/2018:09:03:52.726", "[10/Oct/2000:13:55:36 -0700]",
		"0.377", "1m30.5s", "350µs", "40356"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		ParseCLFTime(b)
		ParseISO8601(b)
		ParseEpoch(b)
		ParseCLFTimeFrac(b)
		ParseAnyTime(b)
		if len(b) > 10 {
			ParseW3CTime(b[:10], b[10:])
		}
		// A duration is never negative nor over its bound, and the
		// sub-millisecond part of a time is one.
		for _, unit := range []int64{nanosecond, millisecond, second} {
			if d, ok := parseDuration(b, unit); ok && (d < 0 || d > maxDuration) {
				t.Fatalf("duration %q = %d", s, d)
			}
		}
		if _, sub, _, ok := parseAnyTime(b); ok && (sub < 0 || sub >= millisecond) {
			t.Fatalf("time %q: %d ns below the millisecond", s, sub)
		}
		// An ISO time that parses formats back to the same instant.
		if ms, _, ok := ParseISO8601(b); ok {
			tm := time.UnixMilli(ms).UTC()
			if tm.Year() >= 0 && tm.Year() <= 9999 {
				again, _, ok := ParseISO8601([]byte(tm.Format("2006-01-02T15:04:05.000Z")))
				if !ok || again != ms {
					t.Fatalf("ISO %q → %d → %v → %d", s, ms, tm, again)
				}
			}
		}
	})
}

func FuzzKeyExtractor(f *testing.F) {
	f.Add("/v1/keys/k%2F1/usage?api_key=q1&x=2", "a=1; sid=c%3D9")
	f.Add("/?key=%zz", "")
	k, err := NewKeyExtractor([]string{"query:api_key", "path:/v1/keys/{key}/*", "cookie:sid", "header:X-Api-Key", "user"})
	if err != nil {
		f.Fatal(err)
	}
	k.SetPattern(regexpMust(`[A-Za-z0-9_/=-]{1,64}`))
	f.Fuzz(func(t *testing.T, target, cookie string) {
		rec := Record{Target: []byte(target), Fields: []Field{{Name: "http_cookie", Value: []byte(cookie)}}}
		if key := k.Extract(&rec); key != nil && k.Rejected() {
			t.Fatal("a key and a rejection at once")
		}
	})
}
