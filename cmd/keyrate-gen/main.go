// Command keyrate-gen writes a deterministic synthetic access log in the
// combined format (or, with --format, as nginx JSON lines or an IIS W3C
// log), for benchmarks (bench/run) and load tests: the same flags always
// produce the same bytes.
//
//	keyrate-gen --lines 2000000 --keys 5000 --seed 1 > access.log
//
// Keys follow a skewed (Zipf) popularity, as real API traffic does; about
// one line in a thousand is malformed and one in fifty carries no key, so
// the error paths are exercised too. Times advance evenly from --start at
// --rate lines per second.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

func main() {
	lines := flag.Int64("lines", 1_000_000, "lines to write")
	keys := flag.Uint64("keys", 5000, "distinct API keys")
	seed := flag.Uint64("seed", 1, "random seed (same seed, same output)")
	start := flag.String("start", "2026-11-01T00:00:00Z", "time of the first line (RFC 3339)")
	rate := flag.Float64("rate", 2000, "lines per second of log time")
	format := flag.String("format", "combined", "combined, json (nginx escape=json) or w3c (IIS)")
	flag.Parse()
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil || *keys == 0 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "keyrate-gen: bad --start, --keys or --rate")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	err = generate(w, *format, *lines, *keys, *seed, t0, *rate)
	if err == nil {
		err = w.Flush() // a full disk shows up here, not in generate
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyrate-gen:", err)
		os.Exit(1)
	}
}

var (
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"}
	paths    = []string{"/v1/items", "/v1/items/", "/v1/search", "/v2/orders", "/v2/orders/", "/health", "/v1/users/"}
	statuses = []int{200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 429, 500, 502, 503}
	agents   = []string{
		"curl/8.5.0", "python-requests/2.31.0", "Go-http-client/1.1",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"okhttp/4.12.0",
	}
	params = []string{"api_key", "api_key", "api_key", "apikey", "key"}
)

// request is one generated request, drawn before it is written in the
// chosen format.
type request struct {
	ip       [3]uint64 // 10.a.b.c
	method   string
	path     string
	id       uint64 // appended to a path ending in "/"
	keyed    bool
	page     uint64
	param    string
	key      uint64
	status   int
	bytes    uint64
	agent    string
	truncate bool // a malformed line: cut mid-field
}

// draw draws the next request. The order of the draws is part of the
// output's identity: the same seed gives the same bytes in every release.
func draw(rng *rand.Rand, zipf *rand.Zipf) request {
	var q request
	for i := range q.ip {
		q.ip[i] = rng.Uint64N(256)
	}
	q.method = methods[rng.IntN(len(methods))]
	q.path = paths[rng.IntN(len(paths))]
	if q.path[len(q.path)-1] == '/' {
		q.id = rng.Uint64N(100000)
	}
	if q.keyed = rng.IntN(50) != 0; q.keyed { // one line in fifty has no key
		q.page = rng.Uint64N(20)
		q.param = params[rng.IntN(len(params))]
		q.key = zipf.Uint64() * 0x9E3779B97F4A7C15
	}
	q.status = statuses[rng.IntN(len(statuses))]
	q.bytes = rng.Uint64N(20000)
	q.agent = agents[rng.IntN(len(agents))]
	q.truncate = rng.IntN(1000) == 0
	return q
}

// appendTarget appends the request target: path, id, query.
func (q *request) appendTarget(buf []byte, querySep byte) []byte {
	buf = append(buf, q.path...)
	if q.path[len(q.path)-1] == '/' {
		buf = strconv.AppendUint(buf, q.id, 10)
	}
	if q.keyed {
		buf = append(buf, querySep)
		buf = q.appendQuery(buf)
	}
	return buf
}

func (q *request) appendQuery(buf []byte) []byte {
	buf = append(buf, "page="...)
	buf = strconv.AppendUint(buf, q.page, 10)
	buf = append(buf, '&')
	buf = append(buf, q.param...)
	buf = append(buf, "=k"...)
	return fmt.Appendf(buf, "%016x", q.key)
}

func (q *request) appendIP(buf []byte) []byte {
	buf = append(buf, "10."...)
	for i, b := range q.ip {
		if i > 0 {
			buf = append(buf, '.')
		}
		buf = strconv.AppendUint(buf, b, 10)
	}
	return buf
}

// outputFormat writes a request as one line, its time formatted by
// layout (once per second of log time).
type outputFormat struct {
	layout string
	write  func(buf []byte, q *request, stamp []byte) []byte
}

const clfTime = "02/Jan/2006:15:04:05 -0700"

var formats = map[string]outputFormat{
	// Apache/nginx combined.
	"combined": {clfTime, func(buf []byte, q *request, stamp []byte) []byte {
		buf = q.appendIP(buf)
		buf = append(buf, " - - ["...)
		buf = append(buf, stamp...)
		buf = append(buf, "] \""...)
		buf = append(buf, q.method...)
		buf = append(buf, ' ')
		buf = q.appendTarget(buf, '?')
		buf = append(buf, " HTTP/1.1\" "...)
		buf = strconv.AppendInt(buf, int64(q.status), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, q.bytes, 10)
		buf = append(buf, " \"-\" \""...)
		buf = append(buf, q.agent...)
		return append(buf, '"')
	}},
	// nginx log_format ... escape=json.
	"json": {clfTime, func(buf []byte, q *request, stamp []byte) []byte {
		buf = append(buf, `{"time_local":"`...)
		buf = append(buf, stamp...)
		buf = append(buf, `","remote_addr":"`...)
		buf = q.appendIP(buf)
		buf = append(buf, `","request":"`...)
		buf = append(buf, q.method...)
		buf = append(buf, ' ')
		buf = q.appendTarget(buf, '?')
		buf = append(buf, ` HTTP/1.1","status":`...)
		buf = strconv.AppendInt(buf, int64(q.status), 10)
		buf = append(buf, `,"body_bytes_sent":`...)
		buf = strconv.AppendUint(buf, q.bytes, 10)
		buf = append(buf, `,"http_referer":"","http_user_agent":"`...)
		buf = append(buf, q.agent...)
		return append(buf, `"}`...)
	}},
	// IIS W3C extended, after the header that w3cHeader writes.
	"w3c": {"2006-01-02 15:04:05", func(buf []byte, q *request, stamp []byte) []byte {
		buf = append(buf, stamp...)
		buf = append(buf, " 10.0.0.1 "...)
		buf = append(buf, q.method...)
		buf = append(buf, ' ')
		buf = q.appendTarget(buf, ' ')
		if !q.keyed {
			buf = append(buf, " -"...)
		}
		buf = append(buf, " 443 - "...)
		buf = q.appendIP(buf)
		buf = append(buf, ' ')
		for i := range len(q.agent) { // W3C writes spaces in values as '+'
			c := q.agent[i]
			if c == ' ' {
				c = '+'
			}
			buf = append(buf, c)
		}
		buf = append(buf, " - "...)
		buf = strconv.AppendInt(buf, int64(q.status), 10)
		buf = append(buf, " 0 0 "...)
		return strconv.AppendUint(buf, q.bytes, 10)
	}},
}

const w3cHeader = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n" +
	"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes\n"

func generate(w *bufio.Writer, format string, lines int64, keys, seed uint64, t0 time.Time, rate float64) error {
	out, ok := formats[format]
	if !ok {
		return fmt.Errorf("unknown --format %q (want combined, json or w3c)", format)
	}
	if format == "w3c" {
		if _, err := w.WriteString(w3cHeader); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b657972617465))
	zipf := rand.NewZipf(rng, 1.1, 4, keys-1)
	var buf, stamp []byte
	var lastSec int64 = -1
	for i := range lines {
		if sec := int64(float64(i) / rate); sec != lastSec {
			lastSec = sec
			stamp = t0.Add(time.Duration(sec)*time.Second).UTC().AppendFormat(stamp[:0], out.layout)
		}
		q := draw(rng, zipf)
		buf = out.write(buf[:0], &q, stamp)
		if q.truncate {
			buf = buf[:(len(buf)+1)/3]
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
