package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Entry is one access-log line of LogLayout.
type Entry struct {
	Line      int
	Seq       int
	Request   string // the request line as logged
	Path      string // without the query
	Key       string // X-Api-Key, else ?api_key=
	ViaQuery  bool
	Status    int
	LogMS     int64 // $msec in milliseconds: when the line was written
	ReqTimeMS int64 // $request_time in milliseconds
	LocalSec  int64 // $time_local, Unix seconds
	ISOSec    int64 // $time_iso8601, Unix seconds
	Verdict   string
	Pid       int
	Conn      int64
}

// ArrivalMS is the request's start as nginx's cached clock had it when the
// request was created (r->start_sec, r->start_msec): $msec - $request_time
// is exact in milliseconds, since both are printed with three decimals
// from the same ngx_timeofday() in the log handler.
func (e *Entry) ArrivalMS() int64 { return e.LogMS - e.ReqTimeMS }

var lineRE = regexp.MustCompile(`^(\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" (\d+)\.(\d{3}) (\d+)\.(\d{3}) (\S+) (\S+) pid=(\d+) conn=(\d+)$`)

// ParseAccessLog reads a log written with LogLayout.
func ParseAccessLog(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("access log line %d: not the keyrate layout: %q", n, sc.Text())
		}
		e := Entry{Line: n, Request: m[3], Verdict: m[12]}
		e.Status, _ = strconv.Atoi(m[4])
		e.LogMS = atoi64(m[7])*1000 + atoi64(m[8])
		e.ReqTimeMS = atoi64(m[9])*1000 + atoi64(m[10])
		e.Pid, _ = strconv.Atoi(m[13])
		e.Conn = atoi64(m[14])
		tl, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
		if err != nil {
			return nil, fmt.Errorf("access log line %d: $time_local: %v", n, err)
		}
		e.LocalSec = tl.Unix()
		ti, err := time.Parse(time.RFC3339, m[11])
		if err != nil {
			return nil, fmt.Errorf("access log line %d: $time_iso8601: %v", n, err)
		}
		e.ISOSec = ti.Unix()
		parts := strings.Fields(e.Request)
		if len(parts) >= 2 {
			u, err := url.ParseRequestURI(parts[1])
			if err == nil {
				e.Path = u.Path
				q := u.Query()
				e.Seq, _ = strconv.Atoi(q.Get("seq"))
				if h := m[6]; h != "-" && h != "" {
					e.Key = h
				} else if k := q.Get("api_key"); k != "" {
					e.Key, e.ViaQuery = k, true
				}
			}
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func readAccessLog(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseAccessLog(f)
}

// WriteArrivalJSON writes the log as JSON lines whose only time is the
// arrival ($msec - $request_time) with millisecond precision, in a shape
// keyrate's json format reads (--format json, --key
// header:X-Api-Key,query:api_key, --verdict-field limit_req_status): the
// pre-processing keyrate made unnecessary, kept as a cross-check of
// keyrate's own arithmetic. The logged time and duration are there under
// names keyrate does not read (as request_time, it would subtract the
// duration twice).
func WriteArrivalJSON(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	type rec struct {
		Time        string `json:"time"`
		Request     string `json:"request"`
		Status      int    `json:"status"`
		Key         string `json:"http_x_api_key,omitempty"`
		Verdict     string `json:"limit_req_status"`
		LoggedMsec  string `json:"logged_msec"`
		RequestTime string `json:"logged_request_time"`
	}
	enc := json.NewEncoder(bw)
	for _, e := range entries {
		r := rec{Time: fmtMS(e.ArrivalMS()), Request: e.Request, Status: e.Status, Verdict: e.Verdict,
			LoggedMsec: fmtMS(e.LogMS), RequestTime: fmtMS(e.ReqTimeMS)}
		if !e.ViaQuery {
			r.Key = e.Key
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// fmtMS writes milliseconds as nginx writes $msec: seconds, a dot, three digits.
func fmtMS(ms int64) string { return fmt.Sprintf("%d.%03d", ms/1000, ms%1000) }

// ErrorLogEvent is a limit_req line of the error log (at info level):
// nginx's own excess for a rejected or delayed request.
type ErrorLogEvent struct {
	Seq      int
	Rejected bool // "limiting requests" (else "delaying request")
	Excess   int64
	Zone     string
	Pid      int
}

var errLineRE = regexp.MustCompile(`\] (\d+)#\d+: \*\d+ (limiting requests|delaying request), excess: (\d+)\.(\d{3}),? by zone "([^"]+)", client: .*, request: "[A-Z]+ [^" ]*[?&]seq=(\d+)`)

// ParseErrorLog returns the limit_req events of an nginx error log.
func ParseErrorLog(path string) ([]ErrorLogEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ErrorLogEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := errLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ev := ErrorLogEvent{Rejected: m[2] == "limiting requests", Excess: atoi64(m[3])*1000 + atoi64(m[4]), Zone: m[5]}
		ev.Pid, _ = strconv.Atoi(m[1])
		ev.Seq, _ = strconv.Atoi(m[6])
		out = append(out, ev)
	}
	return out, sc.Err()
}
