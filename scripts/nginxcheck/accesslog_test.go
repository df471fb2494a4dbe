package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lines as Debian's nginx 1.22.1 wrote them with the template's log_format.
const sampleLog = `127.0.0.1 [02/Dec/2026:00:53:59 +0000] "GET /delay?api_key=k_delay_query&seq=5 HTTP/1.1" 200 43 "-" 1796172839.291 0.000 2026-12-02T00:53:59+00:00 PASSED pid=7055 conn=4
127.0.0.1 [02/Dec/2026:00:53:59 +0000] "GET /nodelay?seq=4 HTTP/1.1" 200 43 "k_nodelay_poisson" 1796172839.292 0.000 2026-12-02T00:53:59+00:00 PASSED pid=7055 conn=6
127.0.0.1 [02/Dec/2026:00:54:00 +0000] "GET /delay?api_key=k_delay_query&seq=39 HTTP/1.1" 200 43 "-" 1796172840.012 1.048 2026-12-02T00:54:00+00:00 DELAYED pid=7055 conn=4
127.0.0.1 [02/Dec/2026:00:54:00 +0000] "GET /slow?seq=12&sleep=197 HTTP/1.1" 429 162 "k_slow_bursty" 1796172840.000 0.000 2026-12-02T00:54:00+00:00 REJECTED pid=7056 conn=28
`

func TestParseAccessLog(t *testing.T) {
	es, err := ParseAccessLog(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 {
		t.Fatalf("%d entries", len(es))
	}
	e := es[2]
	if e.Key != "k_delay_query" || !e.ViaQuery || e.Path != "/delay" || e.Seq != 39 || e.Verdict != "DELAYED" || e.Status != 200 {
		t.Errorf("entry %+v", e)
	}
	// Arrival: $msec - $request_time, exact in milliseconds; it can fall in
	// the second before $time_local's.
	if e.LogMS != 1796172840012 || e.ReqTimeMS != 1048 || e.ArrivalMS() != 1796172838964 || e.LocalSec != 1796172840 || e.ISOSec != 1796172840 {
		t.Errorf("times %+v arrival %d", e, e.ArrivalMS())
	}
	if es[1].Key != "k_nodelay_poisson" || es[1].ViaQuery || es[3].Pid != 7056 || es[3].Conn != 28 {
		t.Errorf("entries %+v %+v", es[1], es[3])
	}
	if _, err := ParseAccessLog(strings.NewReader("127.0.0.1 - - [02/Dec/2026:00:53:59 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n")); err == nil {
		t.Error("a combined line must not parse as the keyrate layout")
	}
}

func TestWriteArrivalJSON(t *testing.T) {
	es, err := ParseAccessLog(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteArrivalJSON(&b, es); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["time"] != "1796172838.964" || rec["limit_req_status"] != "DELAYED" || rec["request"] != "GET /delay?api_key=k_delay_query&seq=39 HTTP/1.1" {
		t.Errorf("record %v", rec)
	}
	if _, ok := rec["http_x_api_key"]; ok {
		t.Error("a query key must not be written as the header")
	}
	// No other key of a record is one keyrate reads as a time or a
	// duration (keyrate would subtract it from the arrival again).
	for k := range rec {
		switch k {
		case "msec", "ts", "timestamp", "time_local", "time_iso8601", "StartUTC", "request_time", "duration":
			t.Errorf("second time field %q", k)
		}
	}
}

func TestParseErrorLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "error.log")
	os.WriteFile(p, []byte(`2026/12/02 00:53:59 [info] 7055#7055: *4 delaying request, excess: 0.240, by zone "delay", client: 127.0.0.1, server: localhost, request: "GET /delay?api_key=k_delay_query&seq=39 HTTP/1.1", host: "127.0.0.1:33387"
2026/12/02 00:53:59 [info] 7055#7055: *28 limiting requests, excess: 5.990 by zone "slow", client: 127.0.0.1, server: localhost, request: "GET /slow?seq=12&sleep=197 HTTP/1.1", host: "127.0.0.1:33387"
2026/12/02 00:53:59 [notice] 7054#7054: signal process started
`), 0o644)
	evs, err := ParseErrorLog(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Rejected || evs[0].Excess != 240 || evs[0].Seq != 39 || evs[0].Zone != "delay" ||
		!evs[1].Rejected || evs[1].Excess != 5990 || evs[1].Seq != 12 || evs[1].Pid != 7055 {
		t.Fatalf("%+v", evs)
	}
}
