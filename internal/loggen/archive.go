// Package loggen writes deterministic access-log archives shaped like the
// ones keyrate reads every night: several servers, each logging in its
// own local time and rotated by logrotate at local midnight, so that a
// night's files cover two UTC dates in part; optionally gzip'd. Tests and
// benchmarks of the nightly dataset use it; the same Spec always gives the
// same bytes.
package loggen

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Spec describes an archive.
type Spec struct {
	// Start is the first local day's date (its time of day is ignored);
	// Days is how many local days each server logs.
	Start time.Time
	Days  int
	// Offsets are the servers' UTC offsets in minutes (e.g. -300 for
	// UTC-5), one per server.
	Offsets []int
	// Keys is how many ordinary API keys send requests (Zipf-skewed),
	// PerSecond the mean requests per second per server.
	Keys      int
	PerSecond float64
	// Heavy keys: each sends HeavyPerDay requests a day spread over the
	// day (to exhaust monthly and daily quotas); Bursty keys send
	// BurstSize requests between 23:59:30 and 00:00:29 UTC every night
	// (windows that straddle midnight).
	Heavy       []string
	HeavyPerDay int
	Bursty      []string
	BurstSize   int
	// Gzip compresses rotated files (access.log-YYYYMMDD.gz).
	Gzip bool
	Seed uint64
}

// File is one rotated log file.
type File struct {
	Path   string
	Server int
	Day    time.Time // the local day it covers (a date; UTC location)
}

// Write writes the archive under dir, as dir/serverN/access.log-YYYYMMDD
// (.gz), and returns its files by local day: files[d] are the files each
// server rotated at the end of local day d, what a nightly run reads.
func Write(dir string, s Spec) ([][]File, error) {
	start := time.Date(s.Start.Year(), s.Start.Month(), s.Start.Day(), 0, 0, 0, 0, time.UTC)
	files := make([][]File, s.Days)
	for srv, off := range s.Offsets {
		loc := time.FixedZone("", off*60)
		sdir := filepath.Join(dir, "server"+strconv.Itoa(srv+1))
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(s.Seed, uint64(srv)+1))
		for d := range s.Days {
			day := start.AddDate(0, 0, d)
			name := "access.log-" + day.Format("20060102")
			if s.Gzip {
				name += ".gz"
			}
			path := filepath.Join(sdir, name)
			from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
			if err := writeDay(path, s, rng, srv, from, from.AddDate(0, 0, 1)); err != nil {
				return nil, err
			}
			files[d] = append(files[d], File{Path: path, Server: srv, Day: day})
		}
	}
	return files, nil
}

// writeDay writes one server's requests in [from, to) (local time).
func writeDay(path string, s Spec, rng *rand.Rand, srv int, from, to time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	var w interface {
		Write([]byte) (int, error)
	} = bw
	var gz *gzip.Writer
	if s.Gzip {
		gz, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
		w = gz
	}
	reqs := requestsOf(s, rng, srv, from, to)
	var buf []byte
	for _, q := range reqs {
		buf = q.appendCombined(buf[:0], from.Location())
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type request struct {
	at     time.Time
	key    string
	method string
	path   string
	status int
	bytes  int
}

var (
	methods  = []string{"GET", "GET", "GET", "POST", "DELETE"}
	paths    = []string{"/v1/items", "/v1/search", "/v2/orders", "/v1/users"}
	statuses = []int{200, 200, 200, 200, 201, 204, 304, 400, 404, 429, 500, 503}
)

// requestsOf draws one server's requests in [from, to), in time order.
func requestsOf(s Spec, rng *rand.Rand, srv int, from, to time.Time) []request {
	var out []request
	zipf := rand.NewZipf(rng, 1.2, 2, uint64(max(1, s.Keys)-1))
	draw := func(at time.Time, key string) request {
		return request{at: at, key: key, method: methods[rng.IntN(len(methods))], path: paths[rng.IntN(len(paths))],
			status: statuses[rng.IntN(len(statuses))], bytes: rng.IntN(5000)}
	}
	// Ordinary traffic: exponential gaps at PerSecond, second resolution
	// as combined logs have.
	if s.PerSecond > 0 && s.Keys > 0 {
		for t := from; ; {
			t = t.Add(time.Duration(rng.ExpFloat64() / s.PerSecond * float64(time.Second)))
			if !t.Before(to) {
				break
			}
			out = append(out, draw(t, "k"+strconv.FormatUint(zipf.Uint64(), 10)))
		}
	}
	// Heavy keys, spread evenly over the servers' share of each day.
	span := to.Sub(from)
	for _, k := range s.Heavy {
		n := s.HeavyPerDay / len(s.Offsets)
		for i := range n {
			out = append(out, draw(from.Add(span*time.Duration(i)/time.Duration(n)+time.Duration(rng.IntN(1000))*time.Millisecond), k))
		}
	}
	// Bursts straddling each UTC midnight inside [from, to).
	for _, k := range s.Bursty {
		for mid := from.UTC().Truncate(24 * time.Hour); mid.Before(to); mid = mid.Add(24 * time.Hour) {
			for i := range s.BurstSize {
				at := mid.Add(-30*time.Second + time.Duration(i)*60*time.Second/time.Duration(max(1, s.BurstSize)))
				if !at.Before(from) && at.Before(to) {
					out = append(out, draw(at, k))
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b request) int { return a.at.Compare(b.at) })
	return out
}

const clfTime = "02/Jan/2006:15:04:05 -0700"

func (q *request) appendCombined(buf []byte, loc *time.Location) []byte {
	buf = fmt.Appendf(buf, "10.0.%d.%d - - [", q.bytes%250, q.status%250)
	buf = q.at.In(loc).AppendFormat(buf, clfTime)
	buf = append(buf, "] \""...)
	buf = append(buf, q.method...)
	buf = append(buf, ' ')
	buf = append(buf, q.path...)
	buf = append(buf, "?api_key="...)
	buf = append(buf, q.key...)
	buf = append(buf, " HTTP/1.1\" "...)
	buf = strconv.AppendInt(buf, int64(q.status), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(q.bytes), 10)
	return append(buf, " \"-\" \"loggen\"\n"...)
}
