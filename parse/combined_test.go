package parse

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCombinedParse(t *testing.T) {
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		name       string
		line       string
		addr       string
		time       string // RFC 3339
		hasRequest bool
		method     string
		target     string
		proto      string
		status     int
		bytes      int64
		referer    string
		agent      string
	}{
		{
			name: "combined",
			line: `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?api_key=abc HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			addr: "127.0.0.1", time: "2000-10-10T20:55:36Z", hasRequest: true,
			method: "GET", target: "/apache_pb.gif?api_key=abc", proto: "HTTP/1.0",
			status: 200, bytes: 2326, referer: "http://www.example.com/start.html", agent: "Mozilla/4.08 [en] (Win98; I ;Nav)",
		},
		{
			name: "common format has no referer or agent",
			line: `192.0.2.1 - - [23/Nov/2026:10:05:00 +0000] "POST /v1/x HTTP/1.1" 201 -`,
			addr: "192.0.2.1", time: "2026-11-23T10:05:00Z", hasRequest: true,
			method: "POST", target: "/v1/x", proto: "HTTP/1.1", status: 201,
		},
		{
			name: "IPv6 client",
			line: `2001:db8::ff00:42:8329 - - [01/Jan/2026:00:00:00 +0530] "GET / HTTP/2.0" 304 0 "-" "curl"`,
			addr: "2001:db8::ff00:42:8329", time: "2025-12-31T18:30:00Z", hasRequest: true,
			method: "GET", target: "/", proto: "HTTP/2.0", status: 304, referer: "-", agent: "curl",
		},
		{
			name: "escaped quotes inside quoted fields",
			line: `::1 - - [23/Nov/2026:10:05:00 +0000] "GET /q?x=\"y\" HTTP/1.1" 200 5 "-" "Mozilla (like \"Gecko\")"`,
			addr: "::1", time: "2026-11-23T10:05:00Z", hasRequest: true,
			method: "GET", target: `/q?x=\"y\"`, proto: "HTTP/1.1", status: 200, bytes: 5, referer: "-", agent: `Mozilla (like \"Gecko\")`,
		},
		{
			name: "TLS probe logged by nginx is a valid line without a request",
			line: `203.0.113.9 - - [23/Nov/2026:10:05:00 +0000] "\x16\x03\x01\x00\xfc\x01\x00\x00" 400 157 "-" "-"`,
			addr: "203.0.113.9", time: "2026-11-23T10:05:00Z", status: 400, bytes: 157, referer: "-", agent: "-",
		},
		{
			name: "dash request",
			line: `203.0.113.9 - - [23/Nov/2026:10:05:00 +0000] "-" 408 0 "-" "-"`,
			addr: "203.0.113.9", time: "2026-11-23T10:05:00Z", status: 408, referer: "-", agent: "-",
		},
		{
			name: "empty request",
			line: `203.0.113.9 - - [23/Nov/2026:10:05:00 +0000] "" 400 0 "-" "-"`,
			addr: "203.0.113.9", time: "2026-11-23T10:05:00Z", status: 400, referer: "-", agent: "-",
		},
		{
			name: "HTTP/0.9 request without protocol",
			line: `203.0.113.9 - - [23/Nov/2026:10:05:00 +0000] "GET /old?key=k" 200 10`,
			addr: "203.0.113.9", time: "2026-11-23T10:05:00Z", hasRequest: true,
			method: "GET", target: "/old?key=k", status: 200, bytes: 10,
		},
		{
			name: "nginx extra trailing fields are ignored",
			line: `10.0.0.1 - - [23/Nov/2026:10:05:00 +0000] "GET /a HTTP/1.1" 200 1 "-" "ua" "198.51.100.1, 10.0.0.2"`,
			addr: "10.0.0.1", time: "2026-11-23T10:05:00Z", hasRequest: true,
			method: "GET", target: "/a", proto: "HTTP/1.1", status: 200, bytes: 1, referer: "-", agent: "ua",
		},
		{
			name: "space inside the target",
			line: `10.0.0.1 - - [23/Nov/2026:10:05:00 +0000] "GET /a b HTTP/1.1" 404 1`,
			addr: "10.0.0.1", time: "2026-11-23T10:05:00Z", hasRequest: true,
			method: "GET", target: "/a b", proto: "HTTP/1.1", status: 404, bytes: 1,
		},
	}
	var p Combined
	var rec Record
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.Parse([]byte(tc.line), &rec); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			check := func(field, got, want string) {
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("RemoteAddr", string(rec.RemoteAddr), tc.addr)
			check("Method", string(rec.Method), tc.method)
			check("Target", string(rec.Target), tc.target)
			check("Proto", string(rec.Proto), tc.proto)
			check("Referer", string(rec.Referer), tc.referer)
			check("UserAgent", string(rec.UserAgent), tc.agent)
			if rec.TimeMillis != ms(tc.time) {
				t.Errorf("TimeMillis = %s, want %s", time.UnixMilli(rec.TimeMillis).UTC(), tc.time)
			}
			if rec.HasRequest != tc.hasRequest || rec.Status != tc.status || rec.Bytes != tc.bytes {
				t.Errorf("HasRequest, Status, Bytes = %v, %d, %d; want %v, %d, %d",
					rec.HasRequest, rec.Status, rec.Bytes, tc.hasRequest, tc.status, tc.bytes)
			}
		})
	}
}

func TestCombinedRejects(t *testing.T) {
	tests := []struct{ name, line string }{
		{"empty", ``},
		{"garbage", `this is not an access log line`},
		{"missing ident and user", `127.0.0.1 [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`},
		{"bad time", `127.0.0.1 - - [10/Oct/2000:13:55:99 -0700] "GET / HTTP/1.0" 200 2326`},
		{"bad month", `127.0.0.1 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`},
		{"unterminated time", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.0" 200 2326`},
		{"unquoted request", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.0 200 2326`},
		{"unterminated request", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0 200 2326`},
		{"non-numeric status", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" OK 2326`},
		{"missing bytes", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200`},
		{"bad bytes", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 12x`},
		{"unquoted referer", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 ref "ua"`},
	}
	var p Combined
	var rec Record
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Parse([]byte(tc.line), &rec)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want a *SyntaxError", tc.line, err)
			}
			if se.Col < 1 || se.Col > len(tc.line)+1 {
				t.Errorf("column %d outside the line (len %d)", se.Col, len(tc.line))
			}
		})
	}
}

func TestCombinedAllocatesNothing(t *testing.T) {
	line := []byte(`203.0.113.7 - - [23/Nov/2026:10:05:00 +0100] "GET /v1/search?q=x&api_key=k_alpha01 HTTP/1.1" 200 512 "-" "curl/8.5.0"`)
	var p Combined
	var rec Record
	keys, err := NewKeyExtractor(DefaultKeySources)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := p.Parse(line, &rec); err != nil {
			t.Fatal(err)
		}
		if keys.Extract(&rec) == nil {
			t.Fatal("no key")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse+Extract allocates %.1f times per line, want 0", allocs)
	}
}

// TestQuotedFastPathMatchesByteLoop checks quoted's SIMD shortcut against
// the escape-aware byte loop on random fields made of the bytes that
// matter: quotes, backslashes, spaces.
func TestQuotedFastPathMatchesByteLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []byte{'a', '"', '\\', ' ', '-'}
	for range 200_000 {
		b := []byte{'"'}
		for range rng.IntN(12) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		fast := scanner{buf: b}
		got, gotOK := fast.quoted()
		slow := scanner{buf: b}
		want, wantOK := slow.escapedQuoted(1)
		if gotOK != wantOK || string(got) != string(want) || (gotOK && fast.pos != slow.pos) {
			t.Fatalf("quoted(%q) = %q, %v (pos %d); byte loop: %q, %v (pos %d)", b, got, gotOK, fast.pos, want, wantOK, slow.pos)
		}
	}
}
