// Command keyrate-gen writes a deterministic synthetic access log in the
// combined format, for benchmarks (bench/run) and load tests: the same
// flags always produce the same bytes.
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
	flag.Parse()
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil || *keys == 0 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "keyrate-gen: bad --start, --keys or --rate")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	err = generate(w, *lines, *keys, *seed, t0, *rate)
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

func generate(w *bufio.Writer, lines int64, keys, seed uint64, t0 time.Time, rate float64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6b657972617465))
	zipf := rand.NewZipf(rng, 1.1, 4, keys-1)
	var buf []byte
	var lastSec int64 = -1
	var stamp []byte
	for i := range lines {
		sec := int64(float64(i) / rate)
		if sec != lastSec {
			lastSec = sec
			stamp = t0.Add(time.Duration(sec)*time.Second).UTC().AppendFormat(stamp[:0], "02/Jan/2006:15:04:05 -0700")
		}
		buf = buf[:0]
		buf = append(buf, "10."...)
		buf = strconv.AppendUint(buf, rng.Uint64N(256), 10)
		buf = append(buf, '.')
		buf = strconv.AppendUint(buf, rng.Uint64N(256), 10)
		buf = append(buf, '.')
		buf = strconv.AppendUint(buf, rng.Uint64N(256), 10)
		buf = append(buf, " - - ["...)
		buf = append(buf, stamp...)
		buf = append(buf, "] \""...)
		buf = append(buf, methods[rng.IntN(len(methods))]...)
		buf = append(buf, ' ')
		p := paths[rng.IntN(len(paths))]
		buf = append(buf, p...)
		if p[len(p)-1] == '/' {
			buf = strconv.AppendUint(buf, rng.Uint64N(100000), 10)
		}
		if rng.IntN(50) != 0 { // one line in fifty has no key
			buf = append(buf, "?page="...)
			buf = strconv.AppendUint(buf, rng.Uint64N(20), 10)
			buf = append(buf, '&')
			buf = append(buf, params[rng.IntN(len(params))]...)
			buf = append(buf, "=k"...)
			buf = fmt.Appendf(buf, "%016x", zipf.Uint64()*0x9E3779B97F4A7C15)
		}
		buf = append(buf, " HTTP/1.1\" "...)
		buf = strconv.AppendInt(buf, int64(statuses[rng.IntN(len(statuses))]), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, rng.Uint64N(20000), 10)
		buf = append(buf, " \"-\" \""...)
		buf = append(buf, agents[rng.IntN(len(agents))]...)
		buf = append(buf, "\"\n"...)
		if rng.IntN(1000) == 0 { // a malformed line: truncated mid-field
			buf = append(buf[:len(buf)/3], '\n')
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
