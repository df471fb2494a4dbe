package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// loopbackAddr accepts only an IP-literal loopback address with a port
// ("127.0.0.1:8080", "[::1]:8080"): the load never leaves the machine.
func loopbackAddr(hostport string) error {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return fmt.Errorf("%q: want a loopback IP literal and a port, as 127.0.0.1:8080: %v", hostport, err)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: the load generator only sends to loopback", hostport)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("%q: port 0", hostport)
	}
	return nil
}

// LoadSummary is what a run did, written as JSON with -summary.
type LoadSummary struct {
	Seed          uint64         `json:"seed"`
	Scheduled     int            `json:"scheduled"`
	Sent          int            `json:"sent"`
	Responses     int            `json:"responses"`
	Errors        int            `json:"errors"`
	FirstError    string         `json:"first_error,omitempty"`
	Skipped       int            `json:"skipped"` // not sent: the run's deadline passed
	ByStatus      map[string]int `json:"by_status"`
	ByLocation    map[string]int `json:"by_location"`
	LateOver100ms int            `json:"late_over_100ms"` // sent >100 ms after schedule (client busy)
	WallSeconds   float64        `json:"wall_seconds"`
	Keys          []KeyPlan      `json:"keys"`
}

// LoadConfig configures RunLoad.
type LoadConfig struct {
	Target   string // nginx, host:port on loopback
	Upstream string // where to serve the slow upstream ("" = none)
	Schedule ScheduleConfig
	Grace    time.Duration // after the last scheduled request, at most this long for stragglers
	Log      io.Writer
}

// RunLoad serves the slow upstream (if asked), sends the schedule and
// returns when every request is answered, failed, or the deadline (last
// scheduled time + Grace) has passed. It never sends more than the
// schedule holds, and only to loopback.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadSummary, error) {
	if err := loopbackAddr(cfg.Target); err != nil {
		return nil, err
	}
	plans, reqs, err := BuildSchedule(cfg.Schedule)
	if err != nil {
		return nil, err
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 20 * time.Second
	}
	if cfg.Upstream != "" {
		if err := loopbackAddr(cfg.Upstream); err != nil {
			return nil, err
		}
		stop, err := serveUpstream(cfg.Upstream)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	last := reqs[len(reqs)-1].At
	ctx, cancel := context.WithTimeout(ctx, last+cfg.Grace)
	defer cancel()

	// One goroutine and one connection per (key, client): requests of a
	// client are sent in order, each when due or, if the client is still
	// waiting for its previous response, as soon as it is free.
	type clientID struct {
		key    string
		client int
	}
	queues := map[clientID][]Request{}
	var order []clientID
	for _, r := range reqs {
		id := clientID{r.Key, r.Client}
		if _, ok := queues[id]; !ok {
			order = append(order, id)
		}
		queues[id] = append(queues[id], r)
	}
	sum := &LoadSummary{Seed: cfg.Schedule.Seed, Scheduled: len(reqs), ByStatus: map[string]int{}, ByLocation: map[string]int{}, Keys: plans}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now().Add(200 * time.Millisecond)
	for _, id := range order {
		q := queues[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{
				Proxy:               nil, // never an environment proxy: loopback only
				MaxConnsPerHost:     1,
				MaxIdleConnsPerHost: 1,
				DisableCompression:  true,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 15 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i, r := range q {
				due := start.Add(r.At)
				if wait := time.Until(due); wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
					}
				}
				if ctx.Err() != nil {
					mu.Lock()
					sum.Skipped += len(q) - i
					mu.Unlock()
					return
				}
				late := time.Since(due) > 100*time.Millisecond
				status, err := send(ctx, client, cfg.Target, r)
				mu.Lock()
				sum.Sent++
				if late {
					sum.LateOver100ms++
				}
				sum.ByLocation[r.Location]++
				if err != nil {
					sum.Errors++
					if sum.FirstError == "" {
						sum.FirstError = fmt.Sprintf("seq=%d %s: %v", r.Seq, r.Location, err)
					}
				} else {
					sum.Responses++
					sum.ByStatus[strconv.Itoa(status)]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum.WallSeconds = time.Since(start).Seconds()
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "load: %d scheduled, %d sent, %d responses %v, %d errors, %d skipped, %d sent late, %.1fs\n",
			sum.Scheduled, sum.Sent, sum.Responses, sortedCounts(sum.ByStatus), sum.Errors, sum.Skipped, sum.LateOver100ms, sum.WallSeconds)
	}
	if sum.Errors > 0 || sum.Skipped > 0 {
		return sum, fmt.Errorf("load: %d errors (first: %s), %d requests not sent before the deadline", sum.Errors, sum.FirstError, sum.Skipped)
	}
	return sum, nil
}

func send(ctx context.Context, c *http.Client, target string, r Request) (int, error) {
	q := url.Values{}
	q.Set("seq", strconv.Itoa(r.Seq))
	if r.ViaQuery {
		q.Set("api_key", r.Key)
	}
	if r.SleepMS > 0 {
		q.Set("sleep", strconv.Itoa(r.SleepMS))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+r.Location+"?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	if !r.ViaQuery {
		req.Header.Set("X-Api-Key", r.Key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// serveUpstream serves the slow upstream that /slow proxies to: it sleeps
// ?sleep=MS (at most 3 s) and answers 200.
func serveUpstream(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("upstream: %v", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("sleep"))
		ms = min(max(ms, 0), 3000)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "slow ok\n")
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "upstream:", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + s + "}"
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o666)
}
