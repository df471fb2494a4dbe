package parse

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in      string
		intUnit int64
		want    int64
		ok      bool
	}{
		{"0.377", second, 377 * millisecond, true}, // nginx $request_time
		{"0.000", second, 0, true},
		{"12.5", millisecond, 12500 * millisecond, true}, // a point means seconds, whatever the unit
		{"0.017557019", nanosecond, 17557019, true},      // Caddy
		{"0.0175570191", second, 17557019, true},         // finer than a ns: dropped
		{"40356", nanosecond, 40356, true},               // Traefik
		{"283", millisecond, 283 * millisecond, true},    // IIS time-taken
		{"116075", microsecond, 116075 * microsecond, true},
		{"2", second, 2 * second, true},
		{"1.5ms", second, 1500 * microsecond, true}, // Go duration strings
		{"1m30.5s", second, 90500 * millisecond, true},
		{"350µs", second, 350 * microsecond, true},
		{"350μs", second, 350 * microsecond, true},
		{"350us", second, 350 * microsecond, true},
		{"2h", second, 7200 * second, true},
		{".5", second, 500 * millisecond, true},
		{"5.", second, 5 * second, true},
		{"", second, 0, false},
		{"-", second, 0, false},
		{"-0.001", second, 0, false},
		{".", second, 0, false},
		{"1e-05", second, 0, false},
		{"1.5xs", second, 0, false},
		{"1s5", second, 0, false},
		{"abc", second, 0, false},
		{"8640000.001", second, 0, false}, // over 100 days
		{"9999999999999999", second, 0, false},
	} {
		got, ok := parseDuration([]byte(c.in), c.intUnit)
		if got != c.want || ok != c.ok {
			t.Errorf("parseDuration(%q, %d) = %d, %v; want %d, %v", c.in, c.intUnit, got, ok, c.want, c.ok)
		}
	}
}

func TestSubtractDuration(t *testing.T) {
	for _, c := range []struct {
		ms, sub int64
		frac    bool
		dur     int64
		want    int64
	}{
		{1796172908984, 0, true, 377 * millisecond, 1796172908607}, // $msec - $request_time, exact
		{1796172908984, 0, true, 0, 1796172908984},
		// Below the millisecond: 1716723772.6014807 - 0.017557019 =
		// 1716723772.5839236..., truncated to .583.
		{1716723772601, 480700, true, 17557019, 1716723772583},
		{1716723772601, 0, true, 1, 1716723772600},
		// Whole seconds: the logged second less the rounded duration.
		{1796172908000, 0, false, 377 * millisecond, 1796172908000},
		{1796172908000, 0, false, 499 * millisecond, 1796172908000},
		{1796172908000, 0, false, 500 * millisecond, 1796172907000},
		{1796172908000, 0, false, 2037 * millisecond, 1796172906000},
		{-1000, 0, false, 1500 * millisecond, -3000},
	} {
		if got := subtractDuration(c.ms, c.sub, c.frac, c.dur); got != c.want {
			t.Errorf("subtractDuration(%d, %d, %v, %d) = %d, want %d", c.ms, c.sub, c.frac, c.dur, got, c.want)
		}
	}
}

// timeCase is one line read with one format: the time it gives and where
// that time comes from.
type timeCase struct {
	name   string
	format FormatOptions // LogFormat, Fields, Time; or name below
	fname  string        // a built-in format when LogFormat is empty
	line   string
	time   string // RFC 3339 UTC, with fraction when SubSecond
	frac   bool
	source string // TimeSource.String()
}

func (c timeCase) check(t *testing.T) {
	t.Helper()
	f, err := LookupFormat(c.fname, c.format)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	var rec Record
	if err := f.New().Parse([]byte(c.line), &rec); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	got := time.UnixMilli(rec.TimeMillis).UTC().Format("2006-01-02T15:04:05.999Z07:00")
	if got != c.time || rec.SubSecond != c.frac || rec.TimeSource == nil || rec.TimeSource.String() != c.source {
		t.Errorf("%s: time %s (sub-second %v) from %v; want %s (%v) from %s", c.name, got, rec.SubSecond, rec.TimeSource, c.time, c.frac, c.source)
	}
	if rec.TimeSource != nil && rec.TimeSource.Basis != BasisArrival && rec.TimeSource.Advice == "" && c.format.Time != TimeLogged {
		t.Errorf("%s: %v without advice on what to log", c.name, rec.TimeSource)
	}
}

// nginxAuditLayout is the layout of scripts/nginxcheck: three times and
// the duration. Its line is a request that arrived at .607, was held 377
// ms (a delayed or proxied request) and logged at .984.
const (
	nginxAuditLayout = `$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_x_api_key" $msec $request_time $time_iso8601 $limit_req_status`
	nginxAuditLine   = `127.0.0.1 [26/Nov/2026:10:15:08 +0000] "GET /slow?seq=1 HTTP/1.1" 200 43 "k1" 1795688108.984 0.377 2026-11-26T10:15:08+00:00 PASSED`
)

// TestLayoutTimes: a layout reads the arrival where it can derive it,
// from its most precise time, and otherwise its most precise time.
func TestLayoutTimes(t *testing.T) {
	logged := func(layout string) FormatOptions { return FormatOptions{LogFormat: layout, Time: TimeLogged} }
	lay := func(layout string) FormatOptions { return FormatOptions{LogFormat: layout} }
	for _, c := range []timeCase{
		{name: "nginx audit layout", format: lay(nginxAuditLayout), line: nginxAuditLine,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival ($msec - $request_time)"},
		{name: "nginx audit layout, logged", format: logged(nginxAuditLayout), line: nginxAuditLine,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged ($msec)"},
		// $time_local with $msec: $msec, in either order.
		{name: "time_local and msec", format: lay(`[$time_local] $msec "$request" $status`),
			line: `[26/Nov/2026:10:15:08 +0000] 1795688108.984 "GET / HTTP/1.1" 200`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged ($msec)"},
		{name: "msec and time_iso8601", format: lay(`$msec $time_iso8601 "$request" $status`),
			line: `1795688108.984 2026-11-26T10:15:08+00:00 "GET / HTTP/1.1" 200`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged ($msec)"},
		// Whole seconds and a duration: the second most likely to hold
		// the arrival (08 - 0.377 rounds to 08, 08 - 2.5 to 05).
		{name: "time_local, request_time", format: lay(`[$time_local] "$request" $status $request_time`),
			line: `[26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 0.377`,
			time: "2026-11-26T10:15:08Z", source: "arrival ($time_local - $request_time)"},
		{name: "time_iso8601, long request_time", format: lay(`$time_iso8601 "$request" $status $request_time`),
			line: `2026-11-26T10:15:08+00:00 "GET / HTTP/1.1" 200 2.500`,
			time: "2026-11-26T10:15:05Z", source: "arrival ($time_iso8601 - $request_time)"},
		{name: "combined as a layout", format: lay(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`),
			line: `1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"`,
			time: "2026-11-26T10:15:08Z", source: "logged ($time_local)"},
		// Apache: %t is when the request was received.
		{name: "apache %t, %D", format: lay(`%h %t \"%r\" %>s %D`), line: `1.2.3.4 [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 377000`,
			time: "2026-11-26T10:15:08Z", source: "arrival (%t)"},
		{name: "apache end:msec less %D beats %t", format: lay(`%h %t %{end:msec}t \"%r\" %>s %D`),
			line: `1.2.3.4 [26/Nov/2026:10:15:08 +0000] 1795688108984 "GET / HTTP/1.1" 200 377123`,
			time: "2026-11-26T10:15:08.606Z", frac: true, source: "arrival (%{end:msec}t - %D)"},
		{name: "apache begin:usec", format: lay(`%h %{begin:usec}t %{end:msec}t \"%r\" %>s %D`),
			line: `1.2.3.4 1795688108607321 1795688108984 "GET / HTTP/1.1" 200 377000`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (%{begin:usec}t)"},
		{name: "apache msec is the start", format: lay(`%h %{msec}t \"%r\" %>s`),
			line: `1.2.3.4 1795688108607 "GET / HTTP/1.1" 200`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (%{msec}t)"},
		{name: "apache end time, no duration", format: lay(`%h %{end:msec}t \"%r\" %>s`),
			line: `1.2.3.4 1795688108984 "GET / HTTP/1.1" 200`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged (%{end:msec}t)"},
		{name: "apache %t and end:msec, logged", format: logged(`%h %t %{end:msec}t \"%r\" %>s %D`),
			line: `1.2.3.4 [26/Nov/2026:10:15:08 +0000] 1795688108984 "GET / HTTP/1.1" 200 377123`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged (%{end:msec}t)"},
		{name: "apache %{ms}T", format: lay(`%h %{end:msec}t \"%r\" %>s %{ms}T`),
			line: `1.2.3.4 1795688108984 "GET / HTTP/1.1" 200 377`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (%{end:msec}t - %{ms}T)"},
		// Built-in formats that are layouts.
		{name: "clf_loose", fname: "clf_loose", line: `1.2.3.4 [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1`,
			time: "2026-11-26T10:15:08Z", source: "logged ($time_local)"},
		{name: "apache_ssl_request", fname: "apache_ssl_request", line: `[26/Nov/2026:10:15:08 +0000] 1.2.3.4 TLSv1.2 AES "GET / HTTP/1.1" 1`,
			time: "2026-11-26T10:15:08Z", source: "arrival (%t)"},
	} {
		c.check(t)
	}
}

// The durations a layout does not subtract, and the times it does not
// use, are still fields.
func TestLayoutKeepsUnusedTimesAsFields(t *testing.T) {
	l, err := CompileLayout(nginxAuditLayout)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := l.Parse([]byte(nginxAuditLine), &rec); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"request_time": "0.377", "time_local": "26/Nov/2026:10:15:08 +0000",
		"time_iso8601": "2026-11-26T10:15:08+00:00", "limit_req_status": "PASSED"} {
		if got := string(rec.Field(name)); got != want {
			t.Errorf("field %s = %q, want %q", name, got, want)
		}
	}
	if err := l.Clone().Parse([]byte(strings.Replace(nginxAuditLine, "0.377", "x", 1)), &rec); err == nil {
		t.Error("a bad $request_time was accepted")
	}
}

func TestJSONTimes(t *testing.T) {
	js := FormatOptions{}
	for _, c := range []timeCase{
		// Caddy: ts is when the entry was written; less duration (s).
		{name: "caddy", fname: "json", format: js, line: `{"level":"info","ts":1716723772.6014807,"msg":"handled request","request":{"method":"GET","uri":"/x"},"duration":0.017557019,"status":200}`,
			time: "2024-05-26T11:42:52.583Z", frac: true, source: "arrival (ts - duration)"},
		{name: "caddy, duration_format string", fname: "json", format: js, line: `{"ts":1716723772.6014807,"request":{"method":"GET","uri":"/x"},"duration":"17.557019ms","status":200}`,
			time: "2024-05-26T11:42:52.583Z", frac: true, source: "arrival (ts - duration)"},
		{name: "caddy, logged", fname: "json", format: FormatOptions{Time: TimeLogged}, line: `{"ts":1716723772.6014807,"request":{"method":"GET","uri":"/x"},"duration":0.017557019,"status":200}`,
			time: "2024-05-26T11:42:52.601Z", frac: true, source: "logged (ts)"},
		// Traefik: StartUTC is the start; Duration (ns) is not needed.
		{name: "traefik", fname: "json", format: js, line: `{"Duration":40356,"RequestMethod":"GET","RequestPath":"/","DownstreamStatus":404,"StartLocal":"2021-03-16T18:56:54.735539596Z","StartUTC":"2021-03-16T18:56:54.735539596Z","time":"2021-03-16T18:56:54Z"}`,
			time: "2021-03-16T18:56:54.735Z", frac: true, source: "arrival (StartUTC)"},
		{name: "traefik, logged", fname: "json", format: FormatOptions{Time: TimeLogged}, line: `{"Duration":40356,"RequestMethod":"GET","RequestPath":"/","DownstreamStatus":404,"StartUTC":"2021-03-16T18:56:54.735539596Z","time":"2021-03-16T18:56:54Z"}`,
			time: "2021-03-16T18:56:54.735Z", frac: true, source: "arrival (StartUTC)"},
		// nginx escape=json: $msec before $time_local, less request_time.
		{name: "nginx json", fname: "json", format: js, line: `{"time_local":"26/Nov/2026:10:15:08 +0000","msec":"1795688108.984","request":"GET /slow HTTP/1.1","status":"200","request_time":"0.377"}`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (msec - request_time)"},
		{name: "nginx json, whole seconds", fname: "json", format: js, line: `{"time_local":"26/Nov/2026:10:15:08 +0000","request":"GET /slow HTTP/1.1","status":"200","request_time":"0.377"}`,
			time: "2026-11-26T10:15:08Z", source: "arrival (time_local - request_time)"},
		{name: "nginx json, no duration", fname: "json", format: js, line: `{"time_iso8601":"2026-11-26T10:15:08+00:00","request":"GET /slow HTTP/1.1","status":"200"}`,
			time: "2026-11-26T10:15:08Z", source: "logged (time_iso8601)"},
		{name: "a generic time", fname: "json", format: js, line: `{"time":"2026-11-26T10:15:08.984Z","method":"GET","path":"/","status":200}`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "unknown (time)"},
		{name: "a duration of -", fname: "json", format: js, line: `{"msec":"1795688108.984","request":"GET / HTTP/1.1","status":200,"request_time":"-"}`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "logged (msec)"},
		// Mapped roles: a start, a duration in the mapped field's units.
		{name: "mapped start", fname: "json", format: FormatOptions{Fields: map[string]string{RoleStart: "began"}},
			line: `{"began":"2026-11-26T10:15:08.607Z","ts":1795688108.984,"method":"GET","path":"/","status":200}`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (began)"},
		{name: "mapped duration", fname: "json", format: FormatOptions{Fields: map[string]string{RoleDuration: "took"}},
			line: `{"ts":1795688108.984,"method":"GET","path":"/","status":200,"took":"377ms"}`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (ts - took)"},
		{name: "mapped time, no default start", fname: "json", format: FormatOptions{Fields: map[string]string{RoleTime: "when"}},
			line: `{"when":"2026-11-26T10:15:08.984Z","StartUTC":"2026-11-26T10:15:00Z","method":"GET","path":"/","status":200}`,
			time: "2026-11-26T10:15:08.984Z", frac: true, source: "unknown (when)"},
	} {
		c.check(t)
	}
	var rec Record
	if err := NewJSONLines(nil, nil).Parse([]byte(`{"ts":1795688108.984,"method":"GET","path":"/","status":200,"duration":"soon"}`), &rec); err == nil ||
		!strings.Contains(err.Error(), "bad duration soon") {
		t.Errorf("a bad duration: %v", err)
	}
}

func TestW3CTimes(t *testing.T) {
	iis := "#Fields: date time cs-method cs-uri-stem sc-status time-taken\n"
	cf := "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status time-taken\n"
	for _, c := range []struct {
		name, header, line string
		o                  FormatOptions
		time, source       string
	}{
		// IIS: integer milliseconds; 08 - 2.283 s rounds to 06.
		{"iis", iis, "2026-11-26 10:15:08 GET / 200 2283", FormatOptions{}, "2026-11-26T10:15:06Z", "arrival (date time - time-taken)"},
		{"iis, logged", iis, "2026-11-26 10:15:08 GET / 200 2283", FormatOptions{Time: TimeLogged}, "2026-11-26T10:15:08Z", "logged (date time)"},
		{"iis, -", iis, "2026-11-26 10:15:08 GET / 200 -", FormatOptions{}, "2026-11-26T10:15:08Z", "logged (date time)"},
		{"no time-taken", "#Fields: date time cs-method cs-uri-stem sc-status\n", "2026-11-26 10:15:08 GET / 200", FormatOptions{}, "2026-11-26T10:15:08Z", "logged (date time)"},
		// CloudFront: seconds with a fraction.
		{"cloudfront", cf, "2026-11-26\t10:15:08\tFRA2\t1\t1.2.3.4\tGET\tx\t/\t200\t0.682", FormatOptions{}, "2026-11-26T10:15:07Z", "arrival (date time - time-taken)"},
	} {
		p := newW3C(c.o)
		var rec Record
		if err := p.Parse([]byte(strings.TrimSuffix(c.header, "\n")), &rec); err != ErrNoRecord {
			t.Fatalf("%s: header: %v", c.name, err)
		}
		if err := p.Clone().Parse([]byte(c.line), &rec); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := time.UnixMilli(rec.TimeMillis).UTC().Format(time.RFC3339)
		if got != c.time || rec.TimeSource.String() != c.source {
			t.Errorf("%s: %s from %v, want %s from %s", c.name, got, rec.TimeSource, c.time, c.source)
		}
		if v := rec.Field("time-taken"); c.line[len(c.line)-1] != '0' && v == nil && strings.Contains(c.header, "time-taken") {
			t.Errorf("%s: time-taken is no longer a field", c.name)
		}
	}
}

// Formats whose time is fixed say which it is.
func TestFixedFormatTimeSources(t *testing.T) {
	for _, c := range []timeCase{
		{name: "combined", fname: "combined", line: `1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"`,
			time: "2026-11-26T10:15:08Z", source: "unknown ([time])"},
		{name: "common", fname: "common", line: `1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1`,
			time: "2026-11-26T10:15:08Z", source: "unknown ([time])"},
		{name: "vhost_combined", fname: "vhost_combined", line: `www.example.com:443 1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"`,
			time: "2026-11-26T10:15:08Z", source: "arrival (%t)"},
		{name: "haproxy", fname: "haproxy", line: `10.0.0.1:1 [26/Nov/2026:10:15:08.607] fe be/s1 0/0/0/1/377 200 5 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
			time: "2026-11-26T10:15:08.607Z", frac: true, source: "arrival (accept date)"},
	} {
		c.check(t)
	}
	// A detected vhost_combined file is read with the combined parser,
	// as Apache's.
	f, err := new(Detector).Detect([]byte("www.example.com:443 1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"curl\"\n"), true, FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := f.New().Parse([]byte(`www.example.com:443 1.2.3.4 - - [26/Nov/2026:10:15:08 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"`), &rec); err != nil ||
		f.Name != "vhost_combined" || rec.TimeSource.String() != "arrival (%t)" {
		t.Errorf("detected %s: %v, %v", f.Name, rec.TimeSource, err)
	}
}

// A Parquet log's columns follow the same roles: CloudFront's date and
// time less time_taken, ALB's request_creation_time.
func TestColumnTimes(t *testing.T) {
	for _, c := range []struct {
		names        []string
		vals         []string
		o            FormatOptions
		time, source string
	}{
		{[]string{"date", "time", "cs_method", "cs_uri_stem", "sc_status", "time_taken"}, []string{"2026-11-26", "10:15:08", "GET", "/", "200", "0.682"},
			FormatOptions{}, "2026-11-26T10:15:07Z", "arrival (date time - time_taken)"},
		{[]string{"date", "time", "cs_method", "cs_uri_stem", "sc_status", "time_taken"}, []string{"2026-11-26", "10:15:08", "GET", "/", "200", "0.682"},
			FormatOptions{Time: TimeLogged}, "2026-11-26T10:15:08Z", "logged (date time)"},
		{[]string{"time", "request_creation_time", "request_verb", "request_url", "elb_status_code"}, []string{"2026-11-26T10:15:08.984Z", "2026-11-26T10:15:08.607Z", "GET", "/", "200"},
			FormatOptions{}, "2026-11-26T10:15:08.607Z", "arrival (request_creation_time)"},
		{[]string{"time", "request_creation_time", "request_verb", "request_url", "elb_status_code"}, []string{"2026-11-26T10:15:08.984Z", "2026-11-26T10:15:08.607Z", "GET", "/", "200"},
			FormatOptions{Time: TimeLogged}, "2026-11-26T10:15:08.984Z", "unknown (time)"},
	} {
		m := NewColumnMapper(c.names, c.o)
		m.Reset()
		for i, v := range c.vals {
			m.Set(i, []byte(v))
		}
		var rec Record
		if err := m.Fill(&rec); err != nil {
			t.Fatalf("%v: %v", c.names, err)
		}
		got := time.UnixMilli(rec.TimeMillis).UTC().Format("2006-01-02T15:04:05.999Z07:00")
		if got != c.time || rec.TimeSource.String() != c.source {
			t.Errorf("%v %v: %s from %v, want %s from %s", c.names, c.o.Time, got, rec.TimeSource, c.time, c.source)
		}
	}
}

func TestTimeChoice(t *testing.T) {
	if _, err := LookupFormat("combined", FormatOptions{Time: "first"}); err == nil || !strings.Contains(err.Error(), `time choice "first"`) {
		t.Errorf("a bad time choice: %v", err)
	}
	for _, s := range []string{"", TimeArrival, TimeLogged} {
		if err := CheckTimeChoice(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}
