package parse

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// want lists the Record values a table case checks; empty strings and
// zero numbers are checked too (a case states every slot it cares about
// through the check helper below).
type want struct {
	time       string // RFC 3339 UTC (with fraction when SubSecond)
	subSecond  bool
	method     string
	target     string
	proto      string
	status     int
	bytes      int64
	remoteAddr string
	user       string
	referer    string
	userAgent  string
	fields     map[string]string
	// timeSource, when set, is the record's TimeSource.String().
	timeSource string
}

type formatCase struct {
	name string
	line string
	want *want // nil: the line must be rejected (errNoRec: ErrNoRecord)
	skip bool  // ErrNoRecord expected
}

func checkRecord(t *testing.T, rec *Record, w *want) {
	t.Helper()
	gotTime := time.UnixMilli(rec.TimeMillis).UTC().Format("2006-01-02T15:04:05.999Z07:00")
	if gotTime != w.time {
		t.Errorf("time = %s, want %s", gotTime, w.time)
	}
	if rec.SubSecond != w.subSecond {
		t.Errorf("SubSecond = %v, want %v", rec.SubSecond, w.subSecond)
	}
	if rec.TimeSource == nil {
		t.Errorf("no TimeSource")
	} else if w.timeSource != "" && rec.TimeSource.String() != w.timeSource {
		t.Errorf("TimeSource = %q, want %q", rec.TimeSource, w.timeSource)
	}
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"method", string(rec.Method), w.method},
		{"target", string(rec.Target), w.target},
		{"proto", string(rec.Proto), w.proto},
		{"remote_addr", string(rec.RemoteAddr), w.remoteAddr},
		{"user", string(rec.User), w.user},
		{"referer", string(rec.Referer), w.referer},
		{"user_agent", string(rec.UserAgent), w.userAgent},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if rec.HasRequest != (w.target != "") {
		t.Errorf("HasRequest = %v with target %q", rec.HasRequest, w.target)
	}
	if rec.Status != w.status || rec.Bytes != w.bytes {
		t.Errorf("status, bytes = %d, %d; want %d, %d", rec.Status, rec.Bytes, w.status, w.bytes)
	}
	for k, v := range w.fields {
		if got := rec.Field(k); string(got) != v || got == nil {
			t.Errorf("field %s = %q, want %q", k, got, v)
		}
	}
}

// runCases feeds the lines of cases, in order, to one parser (stateful
// formats see the earlier lines first).
func runCases(t *testing.T, p LineParser, cases []formatCase) {
	t.Helper()
	var rec Record
	for _, c := range cases {
		err := p.Parse([]byte(c.line), &rec)
		switch {
		case c.skip:
			if !errors.Is(err, ErrNoRecord) {
				t.Errorf("%s: err = %v, want ErrNoRecord", c.name, err)
			}
		case c.want == nil:
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%s: err = %v, want a *SyntaxError", c.name, err)
			}
		case err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		default:
			t.Run(c.name, func(t *testing.T) { checkRecord(t, &rec, c.want) })
		}
	}
}

func TestCombinedTable(t *testing.T) {
	runCases(t, Combined{}, []formatCase{
		{"combined", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?api_key=k1 HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08"`,
			&want{time: "2000-10-10T20:55:36Z", method: "GET", target: "/apache_pb.gif?api_key=k1", proto: "HTTP/1.0", status: 200, bytes: 2326,
				remoteAddr: "127.0.0.1", user: "frank", referer: "http://example.com/", userAgent: "Mozilla/4.08"}, false},
		{"common line", `::1 - - [26/Dec/2016:16:16:48 +0200] "-" 408 -`,
			&want{time: "2016-12-26T14:16:48Z", status: 408, remoteAddr: "::1", user: "-"}, false},
		{"xff list", `10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "curl"`,
			&want{time: "2016-12-07T10:05:07Z", method: "GET", target: "/ocelot", proto: "HTTP/1.1", status: 200, bytes: 571,
				remoteAddr: "10.0.0.2, 10.0.0.1, 127.0.0.1", user: "-", referer: "-", userAgent: "curl"}, false},
		{"vhost prefix", `vhost1.example 123.123.123.123 - - [04/Jul/2019:09:20:46 +0200] "GET / HTTP/1.1" 200 32953 "-" "UA"`,
			&want{time: "2019-07-04T07:20:46Z", method: "GET", target: "/", proto: "HTTP/1.1", status: 200, bytes: 32953,
				remoteAddr: "123.123.123.123", user: "-", referer: "-", userAgent: "UA", fields: map[string]string{"vhost": "vhost1.example"}}, false},
		{"bare dashes", `224.92.49.50 bob frank [25/Feb/2021:12:44:08 +0000] "PATCH /one-to-one HTTP/1.1" 401 84170 - -`,
			&want{time: "2021-02-25T12:44:08Z", method: "PATCH", target: "/one-to-one", proto: "HTTP/1.1", status: 401, bytes: 84170,
				remoteAddr: "224.92.49.50", user: "frank"}, false},
		{"escaped quote in UA", `1.2.3.4 - - [25/Feb/2021:12:44:08 +0000] "GET / HTTP/1.1" 200 1 "-" "a \"b\" c"`,
			&want{time: "2021-02-25T12:44:08Z", method: "GET", target: "/", proto: "HTTP/1.1", status: 200, bytes: 1,
				remoteAddr: "1.2.3.4", user: "-", referer: "-", userAgent: `a \"b\" c`}, false},
		{"tls probe request", `1.2.3.4 - - [25/Feb/2021:12:44:08 +0000] "\x16\x03\x01" 400 0 "-" "-"`,
			&want{time: "2021-02-25T12:44:08Z", status: 400, remoteAddr: "1.2.3.4", user: "-", referer: "-", userAgent: "-"}, false},
		{"missing ident/user", `192.168.202.254 [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.0" 404 46210 "-" "gPXE/0.9.7"`, nil, false},
		{"bad time", `1.2.3.4 - - [32/Jul/2009:22:59:29 +0000] "GET / HTTP/1.0" 404 1`, nil, false},
		{"bad status", `1.2.3.4 - - [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.0" 4040 1`, nil, false},
		{"no bracket", `1.2.3.4 - - 20/Jul/2009:22:59:29 "GET / HTTP/1.0" 404 1`, nil, false},
		{"empty", ``, nil, false},
	})
}

func TestCommonAndVhostTable(t *testing.T) {
	runCases(t, Common{}, []formatCase{
		{"common", `in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "GET /shuttle/missions/sts-68/news/sts-68-mcc-05.txt HTTP/1.0" 200 1839`,
			&want{time: "1995-08-01T04:00:01Z", method: "GET", target: "/shuttle/missions/sts-68/news/sts-68-mcc-05.txt", proto: "HTTP/1.0",
				status: 200, bytes: 1839, remoteAddr: "in24.inetnebr.com", user: "-"}, false},
		{"combined is not common", `1.2.3.4 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1 "-" "-"`, nil, false},
		{"vhost is not common", `v 1.2.3.4 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1`, nil, false},
	})
	runCases(t, VhostCombined{}, []formatCase{
		{"vhost_combined with %D", `localhost:443 178.20.184.42 1j0vhgd jsmith [26/Jul/2023:00:01:26 -0700] "GET /secure/RapidBoard.jspa?rapidView=1295 HTTP/2.0" 200 17163 "-" "Mozilla/5.0" 116075`,
			&want{time: "2023-07-26T07:01:26Z", method: "GET", target: "/secure/RapidBoard.jspa?rapidView=1295", proto: "HTTP/2.0", status: 200, bytes: 17163,
				remoteAddr: "178.20.184.42", user: "jsmith", referer: "-", userAgent: "Mozilla/5.0", fields: map[string]string{"vhost": "localhost:443"}}, false},
		{"no vhost", `1.2.3.4 - - [01/Aug/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1`, nil, false},
	})
}

func TestJSONLinesTable(t *testing.T) {
	p := NewJSONLines(nil, []string{"http_x_api_key", "api_key"})
	runCases(t, p, []formatCase{
		{"nginx escape=json", `{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"1.2.3.4","remote_user":"","request":"GET /v1?api_key=a HTTP/1.1","status":"200","body_bytes_sent":"512","http_referer":"","http_user_agent":"curl/8 \"x\"","http_x_api_key":"hk"}`,
			&want{time: "2000-10-10T20:55:36Z", method: "GET", target: "/v1?api_key=a", proto: "HTTP/1.1", status: 200, bytes: 512,
				remoteAddr: "1.2.3.4", userAgent: `curl/8 "x"`, fields: map[string]string{"http_x_api_key": "hk"}}, false},
		{"caddy", `caddy  | {"level":"info","ts":1716723772.6014807,"logger":"http.log.access","request":{"remote_ip":"10.5.1.1","client_ip":"10.10.10.117","proto":"HTTP/2.0","method":"GET","uri":"/a?b=1","headers":{"User-Agent":["fb/1.1"],"X-Api-Key":["ck"]}},"user_id":"","size":3768,"status":200}`,
			&want{time: "2024-05-26T11:42:52.601Z", subSecond: true, method: "GET", target: "/a?b=1", proto: "HTTP/2.0", status: 200, bytes: 3768,
				remoteAddr: "10.10.10.117", userAgent: "fb/1.1", fields: map[string]string{"http_x_api_key": "ck"}}, false},
		{"traefik", `{"ClientHost":"127.0.0.1","ClientUsername":"-","DownstreamContentSize":19,"DownstreamStatus":404,"RequestMethod":"GET","RequestPath":"/x","RequestProtocol":"HTTP/1.1","StartUTC":"2021-03-16T18:56:54.735539596Z","request_User-Agent":"curl/7.67.0","time":"2021-03-16T18:56:54Z"}`,
			&want{time: "2021-03-16T18:56:54.735Z", subSecond: true, method: "GET", target: "/x", proto: "HTTP/1.1", status: 404, bytes: 19,
				remoteAddr: "127.0.0.1", userAgent: "curl/7.67.0"}, false},
		{"unicode escape", `{"time":"2021-03-16T18:56:54Z","status":200,"request_uri":"/\u00e9\ud83d\ude00","api_key":"k\u0041"}`,
			&want{time: "2021-03-16T18:56:54Z", target: "/é😀", status: 200, fields: map[string]string{"api_key": "kA"}}, false},
		{"nginx \\x escapes", `{"time":"2021-03-16T18:56:54Z","status":"404","request":"GET /a\x22b?api_key=\x41 HTTP/1.1"}`,
			&want{time: "2021-03-16T18:56:54Z", method: "GET", target: `/a"b?api_key=A`, proto: "HTTP/1.1", status: 404}, false},
		{"bad \\x escape", `{"time":"2021-03-16T18:56:54Z","status":200,"request_uri":"/\xZ1"}`, nil, false},
		{"start-up message", `{"level":"info","ts":1761019822.3152757,"msg":"maxprocs: Leaving GOMAXPROCS=12"}`, nil, true},
		{"no time", `{"status":200,"request_uri":"/"}`, nil, false},
		{"truncated", `{"time":"2021-03-16T18:56:54Z","status":2`, nil, false},
		{"trailing garbage", `{"time":"2021-03-16T18:56:54Z","status":200} x`, nil, false},
		{"deep nesting", strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), nil, false},
		{"not json", `hello`, nil, false},
	})
	// --field overrides the default names.
	p = NewJSONLines(map[string]string{RoleTime: "when", RoleURI: "u"}, nil)
	runCases(t, p, []formatCase{
		{"field map", `{"when":1700000000123,"u":"/k","time":"garbage","status":201}`,
			&want{time: "2023-11-14T22:13:20.123Z", subSecond: true, target: "/k", status: 201}, false},
	})
}

func TestW3CTable(t *testing.T) {
	runCases(t, NewW3C(), []formatCase{
		{"data before header", `2015-01-13 00:32:17 1.2.3.4 GET / - 80`, nil, false},
		{"software", `#Software: Microsoft Internet Information Services 8.5`, nil, true},
		{"fields", `#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) cs(X-Api-Key) sc-status sc-bytes`, nil, true},
		{"iis", `2015-01-13 00:32:17 100.79.192.81 GET /robots.txt api_key=k 80 bob 157.55.39.146 Mozilla/5.0+(compatible) - hk 404 1405`,
			&want{time: "2015-01-13T00:32:17Z", method: "GET", target: "/robots.txt?api_key=k", status: 404, bytes: 1405, remoteAddr: "157.55.39.146",
				user: "bob", userAgent: "Mozilla/5.0+(compatible)", fields: map[string]string{"http_x_api_key": "hk", "s-ip": "100.79.192.81", "s-port": "80"}}, false},
		{"too few values", `2015-01-13 00:32:17 100.79.192.81 GET /robots.txt`, nil, false},
		{"new header mid-file", `#Fields: date time cs-method cs-uri-stem sc-status`, nil, true},
		{"new layout", `2015-01-14 01:02:03.250 POST /x 201`,
			&want{time: "2015-01-14T01:02:03.25Z", subSecond: true, method: "POST", target: "/x", status: 201}, false},
		{"bad date", `2015-02-30 01:02:03 POST /x 201`, nil, false},
	})
	runCases(t, NewW3C(), []formatCase{
		{"gmt offset", `#GMT-Offset: -0800`, nil, true},
		{"oracle fields", `#Fields:  c-ip  date  time  cs-method  cs-uri  sc-status  bytes  cs(Cookie)`, nil, true},
		{"oracle", `64.103.37.2      2001-10-31     00:00:18      GET      /a.gif?x=1    200     350    "ORA=1; sid=""q"""`,
			&want{time: "2001-10-31T08:00:18Z", method: "GET", target: "/a.gif?x=1", status: 200, bytes: 350, remoteAddr: "64.103.37.2",
				fields: map[string]string{"http_cookie": `ORA=1; sid=""q""`}}, false},
		// A later header block without its own offset (an IIS log
		// appended) is UTC, as W3C times are by default.
		{"iis block", `#Fields: date time cs-method cs-uri-stem sc-status`, nil, true},
		{"iis after oracle", `2015-01-13 00:32:17 GET /x 200`, &want{time: "2015-01-13T00:32:17Z", method: "GET", target: "/x", status: 200}, false},
		// An offset declared after #Fields holds for its block only: a
		// block starting with #Software is UTC unless it says otherwise.
		{"fields first", `#Fields: date time cs-method cs-uri-stem sc-status`, nil, true},
		{"offset after fields", `#GMT-Offset: -0500`, nil, true},
		{"offset applies", `2026-11-02 10:00:00 GET /a 200`, &want{time: "2026-11-02T15:00:00Z", method: "GET", target: "/a", status: 200}, false},
		{"next block", `#Software: Microsoft Internet Information Services 10.0`, nil, true},
		{"its fields", `#Fields: date time cs-method cs-uri-stem sc-status`, nil, true},
		{"utc again", `2026-11-02 10:00:00 GET /b 200`, &want{time: "2026-11-02T10:00:00Z", method: "GET", target: "/b", status: 200}, false},
	})
	cf := "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query"
	runCases(t, NewW3C(), []formatCase{
		{"cloudfront header", cf, nil, true},
		{"cloudfront", "2019-12-04\t21:02:31\tLAX1\t392\t89.160.20.112\tGET\td1.cloudfront.net\t/index.html\t200\t-\tMozilla/5.0%20(Windows)\tapi_key=z",
			&want{time: "2019-12-04T21:02:31Z", method: "GET", target: "/index.html?api_key=z", status: 200, bytes: 392, remoteAddr: "89.160.20.112",
				userAgent: "Mozilla/5.0%20(Windows)", fields: map[string]string{"x-edge-location": "LAX1", "http_host": "d1.cloudfront.net"}}, false},
		{"cloudfront short row", "2019-12-04\t21:02:31\tLAX1", nil, false},
	})
}

const albHTTPSLine = `https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/p?api_key=a HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:x "Root=1" "www.example.com" "arn:c" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-"`

// ALB's time is request_creation_time, when the load balancer received
// the request; its first field, when it answered, only where a line
// lacks the other (or with LoggedTime).
func TestALBTable(t *testing.T) {
	runCases(t, ALB{}, []formatCase{
		{"https", albHTTPSLine,
			&want{time: "2018-07-02T22:22:48.364Z", subSecond: true, method: "GET", target: "/p?api_key=a", proto: "HTTP/1.1", status: 200, bytes: 57,
				remoteAddr: "192.168.131.39", userAgent: "curl/7.46.0", fields: map[string]string{"authority": "https://www.example.com:443"},
				timeSource: "arrival (request_creation_time)"}, false},
		{"ipv6 client, no path, no request_creation_time", `http 2021-03-16T20:20:00.135052Z app/x/a 2601:6bbc::6bbc:50599 - 0.001 0.052 0.000 502 - 589 2084 "POST https://test.domain.com:443 HTTP/1.1" "-"`,
			&want{time: "2021-03-16T20:20:00.135Z", subSecond: true, method: "POST", target: "/", proto: "HTTP/1.1", status: 502, bytes: 2084,
				remoteAddr: "2601:6bbc::6bbc", timeSource: "logged (time)"}, false},
		{"request_creation_time not a time", strings.Replace(albHTTPSLine, "2018-07-02T22:22:48.364000Z", "-", 1),
			&want{time: "2018-07-02T22:23:00.186Z", subSecond: true, method: "GET", target: "/p?api_key=a", proto: "HTTP/1.1", status: 200, bytes: 57,
				remoteAddr: "192.168.131.39", userAgent: "curl/7.46.0", fields: map[string]string{"authority": "https://www.example.com:443"},
				timeSource: "logged (time)"}, false},
		{"malformed request", `http 2021-03-17T18:54:14.216357Z app/x/a 113.241.19.90:15070 - -1 -1 -1 400 - 0 272 "- http://x:80- -" "-" - - - "-"`,
			&want{time: "2021-03-17T18:54:14.216Z", subSecond: true, status: 400, bytes: 272, remoteAddr: "113.241.19.90"}, false},
		{"not alb", `1.2.3.4 - - [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.0" 404 1`, nil, false},
		{"short", `http 2018-07-02T22:23:00.186641Z app/x 1.2.3.4:1 -`, nil, false},
	})
	runCases(t, ALB{LoggedTime: true}, []formatCase{
		{"https, logged time", albHTTPSLine,
			&want{time: "2018-07-02T22:23:00.186Z", subSecond: true, method: "GET", target: "/p?api_key=a", proto: "HTTP/1.1", status: 200, bytes: 57,
				remoteAddr: "192.168.131.39", userAgent: "curl/7.46.0", fields: map[string]string{"authority": "https://www.example.com:443"},
				timeSource: "logged (time)"}, false},
	})
}

func TestHAProxyTable(t *testing.T) {
	runCases(t, HAProxy{}, []formatCase{
		{"syslog httplog", `Feb 25 16:19:49 192.168.4.2 haproxy[7]: 141.35.244.171:53332 [25/Feb/2019:16:19:48.143] prod_http_in~ bk_admin/nginx 0/0/7/1457/1487 200 11394 - - ---- 2/1/0/0/0 0/0 {Mozilla/5.0 (X11)} {} "GET /admin?api_key=k HTTP/1.1"`,
			&want{time: "2019-02-25T16:19:48.143Z", subSecond: true, method: "GET", target: "/admin?api_key=k", proto: "HTTP/1.1", status: 200, bytes: 11394,
				remoteAddr: "141.35.244.171", fields: map[string]string{"captured_request_headers": "Mozilla/5.0 (X11)"}}, false},
		{"extra host, unix client", `May 22 02:22:22 server1 haproxy[5089]: -:22222 [22/May/2021:02:22:22.222] www-https~ myapp/node2 site.domain.com 0/0/0/18/18 200 200 - - ---- 222/222/2/0/0 0/0 "OPTIONS /api/v2/app/ HTTP/1.1"`,
			&want{time: "2021-05-22T02:22:22.222Z", subSecond: true, method: "OPTIONS", target: "/api/v2/app/", proto: "HTTP/1.1", status: 200, bytes: 200,
				fields: map[string]string{"host": "site.domain.com"}}, false},
		{"no server, -1 timers", `Dec 10 12:01:46 voyager haproxy[19312]: 127.0.0.1:35982 [10/Dec/2018:12:01:46.395] http-ws http-ws/<NOSRV> 0/-1/-1/-1/0 503 213 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
			&want{time: "2018-12-10T12:01:46.395Z", subSecond: true, method: "GET", target: "/", proto: "HTTP/1.1", status: 503, bytes: 213, remoteAddr: "127.0.0.1"}, false},
		{"no syslog prefix, truncated request", `10.0.0.1:1 [10/Dec/2018:12:01:46.395] fe be/s1 0/0/0/1/1 200 5 - - ---- 1/1/0/0/0 0/0 "GET /very/long`,
			&want{time: "2018-12-10T12:01:46.395Z", subSecond: true, method: "GET", target: "/very/long", status: 200, bytes: 5, remoteAddr: "10.0.0.1"}, false},
		{"startup", `Feb 25 16:19:38 192.168.4.2 haproxy[1]: Proxy prod_http_in started.`, nil, true},
		{"ssl failure", `Feb 25 16:20:15 192.168.4.2 haproxy[7]: 95.216.197.33:56224 [25/Feb/2019:16:20:10.111] prod_http_in/sktst2: SSL handshake failure`, nil, true},
		{"bad status", `10.0.0.1:1 [10/Dec/2018:12:01:46.395] fe be/s1 0/0/0/1/1 2x0 5 - - ---- 1/1/0/0/0 0/0 "GET /"`, nil, false},
		{"not haproxy", `hello world`, nil, false},
		{"option logasap", `Feb 25 16:19:49 lb haproxy[7]: 10.0.0.1:53332 [25/Feb/2019:16:19:48.146] fe be/srv 0/0/7/+5/+1487 200 +11394 - - ---- 2/1/0/0/0 0/0 "GET /a?api_key=k HTTP/1.1"`,
			&want{time: "2019-02-25T16:19:48.146Z", subSecond: true, method: "GET", target: "/a?api_key=k", proto: "HTTP/1.1", status: 200, bytes: 11394, remoteAddr: "10.0.0.1"}, false},
		{"tcp mode", `Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0`, nil, true},
		// A line of another log with a client and a date (a combined
		// log's) is malformed here, not skipped: skipped, its request
		// would vanish without a count.
		{"combined line", `67.43.156.13 - - [25/Oct/2016:14:49:33 +0200] "GET /?api_key=k HTTP/1.1" 200 612 "-" "curl"`, nil, false},
	})
}

func TestLayoutTable(t *testing.T) {
	nginx, err := CompileLayout(`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$http_x_api_key"`)
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, nginx, []formatCase{
		{"nginx", `1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] "GET /x?y=1 HTTP/1.1" 200 512 "-" "curl \"q\" 8" 0.005 "hk"`,
			&want{time: "2000-10-10T20:55:36Z", method: "GET", target: "/x?y=1", proto: "HTTP/1.1", status: 200, bytes: 512, remoteAddr: "1.2.3.4",
				user: "bob", userAgent: `curl \"q\" 8`, fields: map[string]string{"request_time": "0.005", "http_x_api_key": "hk"}}, false},
		{"xff in remote_addr", `1.2.3.4, 5.6.7.8 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 0 "-" "-" 0.1 "-"`,
			&want{time: "2000-10-10T20:55:36Z", method: "GET", target: "/", proto: "HTTP/1.1", status: 200, remoteAddr: "1.2.3.4, 5.6.7.8",
				fields: map[string]string{"request_time": "0.1", "http_x_api_key": "-"}}, false},
		{"literal mismatch", `1.2.3.4 bob [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 0`, nil, false},
		{"bad status", `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" abc 0 "-" "-" 0.1 "-"`, nil, false},
	})
	apache, err := CompileLayout(`%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{X-Api-Key}i %{sid}C`)
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, apache, []formatCase{
		{"apache", `10.0.0.9 - - [26/Jul/2023:00:01:26 -0700] "GET /a HTTP/2.0" 304 - "https://r/" "Mozilla/5.0" 116075 ak s1`,
			&want{time: "2023-07-26T07:01:26Z", method: "GET", target: "/a", proto: "HTTP/2.0", status: 304, remoteAddr: "10.0.0.9", user: "",
				referer: "https://r/", userAgent: "Mozilla/5.0", fields: map[string]string{"duration_us": "116075", "http_x_api_key": "ak", "cookie_sid": "s1", "ident": "-"}}, false},
	})
	// %>s is the status sent after internal redirects; with %s beside it,
	// in either order, it is the status.
	for _, c := range []struct{ layout, line string }{
		{`%h %t \"%r\" %s %>s %b`, `1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 302 200 5`},
		{`%h %t \"%r\" %>s %s %b`, `1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 302 5`},
	} {
		l, err := CompileLayout(c.layout)
		if err != nil {
			t.Fatal(err)
		}
		runCases(t, l, []formatCase{{c.layout, c.line,
			&want{time: "2000-10-10T20:55:36Z", method: "GET", target: "/a", proto: "HTTP/1.1", status: 200, bytes: 5, remoteAddr: "1.2.3.4",
				fields: map[string]string{}}, false}})
	}
	iso, err := CompileLayout(`$time_iso8601|$request_method|$request_uri|$args|$status`)
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, iso, []formatCase{
		{"iso and args", `2024-01-02T03:04:05+01:00|POST|/v1/x|api_key=q|201`,
			&want{time: "2024-01-02T02:04:05Z", method: "POST", target: "/v1/x?api_key=q", status: 201}, false},
	})
	for _, bad := range []string{``, `no variables`, `$remote_addr $status`, `$remote_addr$time_local`, `%h %Z %t`, `$a %h %t`, `%{X-Y`} {
		if _, err := CompileLayout(bad); err == nil {
			t.Errorf("CompileLayout(%q) succeeded, want an error", bad)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct{ head, want string }{
		{"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"\n", "combined"},
		{"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1\r\n", "common"},
		{"v 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"\n", "vhost_combined"},
		// An X-Forwarded-For list before ident and user is combined.
		{"10.0.0.2, 10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"\n", "combined"},
		{"{\"time\":\"2021-03-16T18:56:54Z\",\"status\":200,\"request_uri\":\"/\"}\n", "json"},
		{"#Version: 1.0\n#Fields: date time x-edge-location c-ip\n", "cloudfront"},
		{"#Software: IIS\n#Fields: date time c-ip\n2015-01-13 00:32:17 1.2.3.4\n", "w3c"},
		{"1.2.3.4 [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 2 3\n", "clf_loose"},
		// Mostly combined with a malformed line: still combined.
		{"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"\n1.2.3.4 [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1\n1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"-\" \"-\"\n", "combined"},
	}
	for _, c := range cases {
		f, err := new(Detector).Detect([]byte(c.head), true, FormatOptions{})
		if err != nil || f.Name != c.want {
			t.Errorf("Detect(%q) = %q, %v; want %q", c.head, f.Name, err, c.want)
		}
	}
	_, err := new(Detector).Detect([]byte("hello world\nsecond line\n"), true, FormatOptions{})
	if err == nil || !strings.Contains(err.Error(), `"hello world"`) {
		t.Errorf("Detect(garbage) error = %v, want it to show the first line", err)
	}
	// Without atEOF the partial last line is not sampled.
	if _, err := new(Detector).Detect([]byte("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET"), false, FormatOptions{}); err == nil {
		t.Error("Detect used a partial line")
	}
}

func TestLookupFormat(t *testing.T) {
	for _, b := range builtins {
		n := b.name
		f, err := LookupFormat(strings.ToUpper(n), FormatOptions{})
		if err != nil || f.Name != n || f.New() == nil {
			t.Errorf("LookupFormat(%q) = %v, %v", n, f.Name, err)
		}
	}
	if _, err := LookupFormat("nope", FormatOptions{}); err == nil {
		t.Error("LookupFormat(nope) succeeded")
	}
	f, err := LookupFormat("auto", FormatOptions{LogFormat: `$remote_addr [$time_local] $status`})
	if err != nil || f.Name != FormatLayout {
		t.Errorf("LookupFormat with a layout = %v, %v", f.Name, err)
	}
}

func TestParseFieldMap(t *testing.T) {
	m, err := ParseFieldMap([]string{"time=ts, uri=request_uri", "status=code"})
	if err != nil || m[RoleTime] != "ts" || m[RoleURI] != "request_uri" || m[RoleStatus] != "code" || len(m) != 3 {
		t.Errorf("ParseFieldMap = %v, %v", m, err)
	}
	for _, bad := range []string{"time", "nope=x", "time="} {
		if _, err := ParseFieldMap([]string{bad}); err == nil {
			t.Errorf("ParseFieldMap(%q) succeeded", bad)
		}
	}
}

// detectReference is detection's rule by brute force: every candidate
// format parses every sampled line; the most lines parsed wins, the
// earliest on a tie, if it parses at least as many as it fails; the
// fallback only when nothing else qualifies.
func detectReference(lines [][]byte) string {
	best, bestOK := -1, 0
	var rec Record
	for i, b := range builtins {
		if !candidate(i) || (b.fallback && best >= 0) {
			continue
		}
		p := b.new(FormatOptions{})
		ok, bad := 0, 0
		for _, l := range lines {
			switch err := p.Parse(l, &rec); {
			case err == nil:
				ok++
			case err == ErrNoRecord:
			default:
				bad++
			}
		}
		if ok > bestOK && ok >= bad {
			best, bestOK = i, ok
		}
	}
	if best < 0 {
		return ""
	}
	return builtins[best].name
}

// TestDetectorMatchesReference: whatever format a Detector saw last (its
// head start) and wherever it stops trying a format early, it answers as
// the brute-force rule does, on real logs of every format and on random
// mixtures of their lines (where several formats qualify and ties and
// near-ties decide).
func TestDetectorMatchesReference(t *testing.T) {
	dir := corpusDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var pool [][]byte
	var heads [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(data, []byte("#")) {
			continue // W3C and CloudFront: settled by their header
		}
		heads = append(heads, data)
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 && len(pool) < 20000 {
				pool = append(pool, l)
			}
		}
	}
	if len(heads) < 10 {
		t.Fatalf("only %d corpus logs found in %s", len(heads), dir)
	}
	rng := rand.New(rand.NewPCG(3, 9))
	for range 300 {
		var head []byte
		if rng.IntN(3) == 0 {
			head = heads[rng.IntN(len(heads))]
		} else {
			// Lines of two or three logs, in random proportions.
			var srcs [][]byte
			for range 1 + rng.IntN(3) {
				srcs = append(srcs, pool[rng.IntN(len(pool))])
			}
			for range 1 + rng.IntN(40) {
				l := srcs[rng.IntN(len(srcs))]
				if rng.IntN(4) == 0 {
					l = pool[rng.IntN(len(pool))]
				}
				head = append(append(head, l...), '\n')
			}
		}
		want := detectReference(sampleLines(head, true))
		for last := 0; last <= len(builtins); last++ {
			d := Detector{last: last}
			f, err := d.Detect(head, true, FormatOptions{})
			if (err != nil) != (want == "") || (err == nil && f.Name != want) {
				t.Fatalf("Detector{last: %d} on %q: %q, %v; the rule gives %q", last, clip(head, 300), f.Name, err, want)
			}
			if err == nil && builtins[d.last-1].name != want {
				t.Fatalf("Detector remembered %q after detecting %q", builtins[d.last-1].name, want)
			}
		}
	}
}

// IsTar knows a tar header (POSIX ustar, GNU, pre-POSIX) by its checksum,
// and no log line for one, even one with "ustar" where the magic goes.
func TestIsTar(t *testing.T) {
	for _, format := range []tar.Format{tar.FormatUSTAR, tar.FormatGNU, tar.FormatPAX} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "access.log", Mode: 0o644, Size: 4, Format: format, ModTime: time.Unix(1e9, 0)})
		tw.Write([]byte("x y\n"))
		tw.Close()
		if !IsTar(buf.Bytes()) {
			t.Errorf("a %v archive is not a tar", format)
		}
		v7 := bytes.Clone(buf.Bytes()[:512])
		clear(v7[257:]) // no magic nor the fields after it, as tar before POSIX wrote
		sum := 0
		for i, c := range v7 {
			if i >= 148 && i < 156 {
				c = ' '
			}
			sum += int(c)
		}
		copy(v7[148:156], fmt.Sprintf("%06o\x00 ", sum))
		if format == tar.FormatUSTAR && !IsTar(v7) {
			t.Error("a pre-POSIX header is not a tar")
		}
	}
	line := "10.0.0.1 - - [23/Nov/2026:10:00:00 +0000] \"GET /" + strings.Repeat("a", 210) + "ustar\x0000 HTTP/1.1\" 200 5 \"-\" \"t\"\n"
	for _, head := range []string{strings.Repeat(line, 3), strings.Repeat("\x00", 1024), strings.Repeat("0", 600)} {
		if IsTar([]byte(head)) {
			t.Errorf("%.40q... is taken for a tar", head)
		}
	}
}

// AWS API Gateway's JSON access log (the console's preset fields:
// requestTime, httpMethod, resourcePath, status, responseLength, ip) and
// Envoy's default access log are detected like the other formats, and
// every line of their sample files reads.
func TestDetectAPIGatewayAndEnvoy(t *testing.T) {
	for file, name := range map[string]string{"apigateway-rest.jsonl": "json", "envoy-default.log": "envoy"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "formats", file))
		if err != nil {
			t.Fatal(err)
		}
		o := FormatOptions{Want: []string{"apikey"}}
		f, err := new(Detector).Detect(data, true, o)
		if err != nil || f.Name != name {
			t.Fatalf("%s: detected %q, %v; want %s", file, f.Name, err, name)
		}
		p := f.New()
		var rec Record
		for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if err := p.Parse([]byte(line), &rec); err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			if rec.TimeMillis < time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).UnixMilli() || rec.Status < 200 || len(rec.Method) == 0 || len(rec.Target) == 0 {
				t.Fatalf("%s:%d: time %d, status %d, method %q, target %q", file, i+1, rec.TimeMillis, rec.Status, rec.Method, rec.Target)
			}
		}
	}
	// API Gateway's HTTP APIs log requestTimeEpoch too: milliseconds win.
	var rec Record
	line := `{"requestId":"Jx0","ip":"192.0.2.1","requestTime":"24/Nov/2026:09:14:03 +0000","requestTimeEpoch":1795511643217,"httpMethod":"GET","path":"/v1/items","status":"429","protocol":"HTTP/1.1","responseLength":"42","identity":{"apiKeyId":"a1b2c3","apiKey":"k_1"}}`
	if err := NewJSONLines(nil, []string{"identity.apikey"}).Parse([]byte(line), &rec); err != nil || rec.TimeMillis != 1795511643217 ||
		string(rec.Target) != "/v1/items" || string(rec.Field("identity.apikey")) != "k_1" {
		t.Errorf("HTTP API line: %v, time %d, target %q, key %q", err, rec.TimeMillis, rec.Target, rec.Field("identity.apikey"))
	}
}

// Envoy's own format syntax in --log-format: %START_TIME% (default or
// epoch formats), %REQ(...)% headers and pseudo-headers, %RESP(...)%,
// length limits, other operators as fields.
func TestEnvoyLayout(t *testing.T) {
	l, err := CompileLayout(`%START_TIME(%s.%3f)% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH):100% %PROTOCOL%" %RESPONSE_CODE% %BYTES_SENT% "%REQ(X-API-KEY)%" "%RESP(X-RATELIMIT-REMAINING)%" %UPSTREAM_CLUSTER% %DYNAMIC_METADATA(envoy.lb:canary)%`)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	line := `1795511643.217 192.0.2.7 "GET /v1/items?limit=5 HTTP/2" 429 18 "k_live_1" "0" backend true`
	if err := l.Parse([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	checkRecord(t, &rec, &want{time: "2026-11-24T09:14:03.217Z", subSecond: true, method: "GET", target: "/v1/items?limit=5", proto: "HTTP/2",
		status: 429, bytes: 18, remoteAddr: "192.0.2.7", fields: map[string]string{
			"http_x_api_key": "k_live_1", "sent_http_x_ratelimit_remaining": "0", "upstream_cluster": "backend", "dynamic_metadata_envoy.lb_canary": "true"}})
	// An Apache layout is not taken for Envoy's.
	apache, err := CompileLayout(`%h %t "%r" %>s %b %D`)
	if err != nil {
		t.Fatal(err)
	}
	if err := apache.Parse([]byte(`192.0.2.7 [24/Nov/2026:09:14:03 +0000] "GET /x HTTP/1.1" 200 5 1234`), &rec); err != nil || string(rec.Field("duration_us")) != "1234" {
		t.Errorf("Apache layout: %v, %q", err, rec.Fields)
	}
}
