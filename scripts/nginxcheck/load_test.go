package main

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestScheduleDeterministicAndBounded(t *testing.T) {
	cfg := ScheduleConfig{Seed: 1, Duration: 25 * time.Second, MaxRequests: 8000}
	p1, r1, err := BuildSchedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p2, r2, _ := BuildSchedule(cfg)
	if !reflect.DeepEqual(p1, p2) || !reflect.DeepEqual(r1, r2) {
		t.Fatal("the same seed gave two schedules")
	}
	cfg.Seed = 2
	_, r3, _ := BuildSchedule(cfg)
	if reflect.DeepEqual(r1, r3) {
		t.Fatal("seeds 1 and 2 gave the same schedule")
	}
	if n := len(r1); n < 2000 || n > 8000 {
		t.Fatalf("%d requests in 25 s: want a few thousand", n)
	}
	perKey := map[string]int{}
	clients := map[string]int{}
	for i, r := range r1 {
		if r.Seq != i+1 || r.At < 0 || r.At >= cfg.Duration {
			t.Fatalf("request %d: %+v", i, r)
		}
		if i > 0 && r.At < r1[i-1].At {
			t.Fatal("not sorted by time")
		}
		perKey[r.Key]++
		clients[r.Key] = max(clients[r.Key], r.Client+1)
	}
	if len(p1) != 32 {
		t.Errorf("%d keys, want 32", len(p1))
	}
	multi := 0
	for _, p := range p1 {
		if perKey[p.Key] == 0 {
			t.Errorf("key %s sends nothing", p.Key)
		}
		if clients[p.Key] > 1 {
			multi++
		}
	}
	if multi < 10 {
		t.Errorf("only %d keys use several clients", multi)
	}
	cfg.MaxRequests = 100
	if _, _, err := BuildSchedule(cfg); err == nil {
		t.Error("a schedule above MaxRequests must be refused")
	}
	if _, _, err := BuildSchedule(ScheduleConfig{Seed: 1, Duration: time.Hour}); err == nil {
		t.Error("an hour-long schedule must be refused")
	}
}

func TestScheduleForgetPhase(t *testing.T) {
	_, r, err := BuildSchedule(ScheduleConfig{Seed: 1, Duration: 2 * time.Second, Forget: true})
	if err != nil {
		t.Fatal(err)
	}
	last := r[len(r)-1]
	if last.Key != "f_two" || last.At != 61600*time.Millisecond {
		t.Fatalf("last request %+v", last)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:80", "127.1.2.3:8080", "[::1]:8080"} {
		if err := loopbackAddr(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.1:80", "localhost:80", "example.com:80", "127.0.0.1", "127.0.0.1:0", "0.0.0.0:80", "[::]:80"} {
		if err := loopbackAddr(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := RunLoad(context.Background(), LoadConfig{Target: "192.0.2.1:80", Schedule: ScheduleConfig{Seed: 1, Duration: time.Second}}); err == nil {
		t.Error("RunLoad sent to a non-loopback target")
	}
}

// RunLoad against a plain Go server standing in for nginx: every scheduled
// request arrives exactly once, with its key where the plan says, and the
// upstream sleeps as asked.
func TestRunLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a 2-second load")
	}
	var mu sync.Mutex
	seen := map[int]string{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := up.Addr().String()
	up.Close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		seq, _ := strconv.Atoi(q.Get("seq"))
		key := r.Header.Get("X-Api-Key")
		if key == "" {
			key = "query:" + q.Get("api_key")
		}
		if r.URL.Path == "/slow" { // proxy to the upstream as nginx would
			resp, err := http.Get("http://" + upAddr + r.URL.RequestURI())
			if err != nil {
				w.WriteHeader(502)
				return
			}
			resp.Body.Close()
		}
		mu.Lock()
		if _, dup := seen[seq]; dup {
			key = "DUPLICATE"
		}
		seen[seq] = key
		mu.Unlock()
		if seq%7 == 0 {
			w.WriteHeader(429)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	sched := ScheduleConfig{Seed: 3, Duration: 2 * time.Second, MaxRequests: 2000}
	sum, err := RunLoad(context.Background(), LoadConfig{Target: ln.Addr().String(), Upstream: upAddr, Schedule: sched})
	if err != nil {
		t.Fatal(err)
	}
	_, reqs, _ := BuildSchedule(sched)
	if sum.Responses != len(reqs) || len(seen) != len(reqs) {
		t.Fatalf("%d scheduled, %d responses, %d seen", len(reqs), sum.Responses, len(seen))
	}
	for _, r := range reqs {
		want := r.Key
		if r.ViaQuery {
			want = "query:" + r.Key
		}
		if seen[r.Seq] != want {
			t.Fatalf("seq %d: server saw %q, want %q", r.Seq, seen[r.Seq], want)
		}
	}
	if sum.ByStatus["429"] == 0 || sum.ByStatus["200"] == 0 {
		t.Errorf("statuses %v", sum.ByStatus)
	}
}
