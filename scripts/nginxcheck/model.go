package main

import (
	"container/list"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// This file is a line-by-line model of ngx_http_limit_req_module.c
// (nginx 1.22.1; unchanged since in that file): handler, lookup, account,
// unlock and expire, with nginx's integer arithmetic in thousandths. It
// replays a log's requests in arrival order and says what nginx decided
// for each, so that the harness can tell which differences come from the
// time a replay uses and which from the semantics (chained zones,
// forgetting) keyrate does not yet model.

const ngxMaxIntT = int64(1<<63 - 1)

// LimitCfg is one limit_req line of a location.
type LimitCfg struct {
	Zone  string
	Burst int64 // thousandths (burst * 1000)
	Delay int64 // thousandths; nodelay = NGX_MAX_INT_T_VALUE/1000*1000
}

// LocationCfg is a location and its limit_req lines, in order.
type LocationCfg struct {
	Prefix string
	Limits []LimitCfg
}

// GatewayCfg is the limit_req part of an nginx configuration.
type GatewayCfg struct {
	ZoneRate  map[string]int64 // thousandths of a request per second, as nginx computes it
	Locations []LocationCfg
}

var (
	zoneLineRE = regexp.MustCompile(`(?m)^\s*limit_req_zone\s+\S+\s+zone=(\w+):\S+\s+rate=(\d+)r/([sm]);`)
	locLineRE  = regexp.MustCompile(`^\s*location\s+(\S+)\s*\{`)
	limLineRE  = regexp.MustCompile(`^\s*limit_req\s+zone=(\w+)((?:\s+(?:burst=\d+|nodelay|delay=\d+))*)\s*;`)
)

// ParseGatewayCfg reads the zones and the locations' limit_req lines of a
// configuration written like nginx.conf.tmpl (one directive a line,
// prefix locations).
func ParseGatewayCfg(conf string) (*GatewayCfg, error) {
	g := &GatewayCfg{ZoneRate: map[string]int64{}}
	for _, m := range zoneLineRE.FindAllStringSubmatch(conf, -1) {
		rate, _ := strconv.ParseInt(m[2], 10, 64)
		scale := int64(1)
		if m[3] == "m" {
			scale = 60
		}
		g.ZoneRate[m[1]] = rate * 1000 / scale // ngx_http_limit_req_zone: ctx->rate = rate * 1000 / scale
	}
	var cur *LocationCfg
	for _, line := range strings.Split(conf, "\n") {
		if m := locLineRE.FindStringSubmatch(line); m != nil {
			g.Locations = append(g.Locations, LocationCfg{Prefix: m[1]})
			cur = &g.Locations[len(g.Locations)-1]
			continue
		}
		if m := limLineRE.FindStringSubmatch(line); m != nil {
			if cur == nil {
				return nil, fmt.Errorf("limit_req outside a location: %q", line)
			}
			if _, ok := g.ZoneRate[m[1]]; !ok {
				return nil, fmt.Errorf("limit_req zone=%s: no such limit_req_zone", m[1])
			}
			l := LimitCfg{Zone: m[1]}
			for _, p := range strings.Fields(m[2]) {
				switch {
				case strings.HasPrefix(p, "burst="):
					n, _ := strconv.ParseInt(p[6:], 10, 64)
					l.Burst = n * 1000
				case strings.HasPrefix(p, "delay="):
					n, _ := strconv.ParseInt(p[6:], 10, 64)
					l.Delay = n * 1000
				case p == "nodelay":
					l.Delay = ngxMaxIntT / 1000 * 1000
				}
			}
			cur.Limits = append(cur.Limits, l)
		}
	}
	return g, nil
}

func (g *GatewayCfg) location(path string) *LocationCfg {
	var best *LocationCfg
	for i := range g.Locations {
		l := &g.Locations[i]
		if strings.HasPrefix(path, l.Prefix) && (best == nil || len(l.Prefix) > len(best.Prefix)) {
			best = l
		}
	}
	return best
}

type lrNode struct {
	key    string
	excess int64
	last   int64
	count  int
	elem   *list.Element
}

type zoneState struct {
	name    string
	rate    int64
	nodes   map[string]*lrNode
	queue   *list.List // Front = head (most recently looked up), Back = tail
	pending *lrNode    // ctx->node
	expired int        // nodes removed by expire
	forgot  map[string]int
}

// Model replays requests through nginx's limit_req.
type Model struct {
	cfg   *GatewayCfg
	zones map[string]*zoneState
	// NoExpire never forgets a key (as keyrate does today).
	NoExpire bool
	// Independent evaluates each limit of a location alone, as keyrate
	// does today: a request is rejected if any limit alone rejects it,
	// and each limit accounts every request it alone accepts.
	Independent bool
	// SlackMS marks a verdict Ambiguous when shifting the interval since
	// the key's last accounted request by up to SlackMS milliseconds would
	// flip it: nginx's limiter clock (ngx_current_msec, CLOCK_MONOTONIC)
	// and the logged wall clock ($msec) are truncated to milliseconds
	// separately, so every interval a log shows may be 1 ms off.
	SlackMS int64

	now int64 // ngx_current_msec of the request being handled
	amb bool  // the request being handled is ambiguous
}

func NewModel(cfg *GatewayCfg) *Model {
	m := &Model{cfg: cfg, zones: map[string]*zoneState{}}
	for name, rate := range cfg.ZoneRate {
		m.zones[name] = &zoneState{name: name, rate: rate, nodes: map[string]*lrNode{}, queue: list.New(), forgot: map[string]int{}}
	}
	return m
}

// Verdict is what nginx decided for one request.
type Verdict struct {
	Status string // PASSED, DELAYED, REJECTED, or "-" (no limit ran)
	Zone   string // the rejecting zone, or the zone that set the delay
	Excess int64  // as in the error log's "excess: X.YYY"
	// ZoneRejected lists, in Independent mode, every zone that alone rejected.
	ZoneRejected []string
	// Ambiguous: a 1-ms (SlackMS) difference could flip the verdict.
	Ambiguous bool
}

const (
	rcDeclined = iota
	rcOK
	rcAgain
	rcBusy
)

// Handle is ngx_http_limit_req_handler for a request at now (milliseconds)
// to path with the zone key key.
func (m *Model) Handle(now int64, path, key string) Verdict {
	m.now, m.amb = now, false
	v := m.handle0(now, path, key)
	v.Ambiguous = m.amb
	return v
}

func (m *Model) handle0(now int64, path, key string) Verdict {
	loc := m.cfg.location(path)
	if loc == nil || len(loc.Limits) == 0 || key == "" {
		return Verdict{Status: "-"}
	}
	if m.Independent && len(loc.Limits) > 1 {
		v := Verdict{Status: "PASSED"}
		for _, l := range loc.Limits {
			lv := m.handle(now, key, []LimitCfg{l})
			if lv.Status == "REJECTED" {
				v.ZoneRejected = append(v.ZoneRejected, l.Zone)
				if v.Status != "REJECTED" {
					v.Status, v.Zone, v.Excess = "REJECTED", lv.Zone, lv.Excess
				}
			} else if lv.Status == "DELAYED" && v.Status == "PASSED" {
				v = Verdict{Status: "DELAYED", Zone: lv.Zone, Excess: lv.Excess}
			}
		}
		return v
	}
	return m.handle(now, key, loc.Limits)
}

func (m *Model) handle(now int64, key string, limits []LimitCfg) Verdict {
	var excess int64
	rc := rcDeclined
	n := 0
	for n = 0; n < len(limits); n++ {
		rc, excess = m.lookup(limits[n], key, now, n == len(limits)-1)
		if rc != rcAgain {
			break
		}
	}
	if rc == rcDeclined {
		return Verdict{Status: "-"}
	}
	if rc == rcBusy {
		z := limits[n].Zone
		m.unlock(limits, n)
		return Verdict{Status: "REJECTED", Zone: z, Excess: excess, ZoneRejected: []string{z}}
	}
	if rc == rcAgain { // the loop ran out (the last key was empty): never here, keys are never empty
		excess = 0
		n = len(limits)
	}
	limit := n
	if limit == len(limits) {
		limit = n - 1
	}
	delay, ex, lz := m.account(limits, n, excess, limit)
	if delay == 0 {
		return Verdict{Status: "PASSED"}
	}
	return Verdict{Status: "DELAYED", Zone: limits[lz].Zone, Excess: ex}
}

// nextExcess is the interval since lr's last accounted request and the
// excess a request at now would have, as ngx_http_limit_req_lookup and
// _account compute them: a clock gone back by over a minute counts as
// 1 ms, by less as 0; the excess drains rate per second and never goes
// below 0.
func nextExcess(lr *lrNode, rate, now int64) (ms, excess int64) {
	ms = now - lr.last
	if ms < -60000 {
		ms = 1
	} else if ms < 0 {
		ms = 0
	}
	return ms, max(0, lr.excess-rate*ms/1000+1000)
}

// lookup is ngx_http_limit_req_lookup.
func (m *Model) lookup(limit LimitCfg, key string, now int64, account bool) (int, int64) {
	z := m.zones[limit.Zone]
	if lr, ok := z.nodes[key]; ok {
		z.queue.MoveToFront(lr.elem) // bumped on every lookup, rejected or not
		ms, excess := nextExcess(lr, z.rate, now)
		if m.SlackMS > 0 {
			// nginx's excess may be up to s lower (a longer interval) or,
			// unless the log shows no interval at all, s higher.
			s := (z.rate*m.SlackMS+999)/1000 + 1
			lo := limit.Burst - s
			if ms == 0 {
				lo = limit.Burst
			}
			if lo < excess && excess <= limit.Burst+s {
				m.amb = true
			}
		}
		if excess > limit.Burst {
			return rcBusy, excess
		}
		if account {
			lr.excess = excess
			if ms != 0 {
				lr.last = now
			}
			return rcOK, excess
		}
		lr.count++
		z.pending = lr
		return rcAgain, excess
	}
	if !m.NoExpire {
		m.expire(z, 1, now)
	}
	lr := &lrNode{key: key}
	lr.elem = z.queue.PushFront(lr)
	z.nodes[key] = lr
	if account {
		lr.last = now
		return rcOK, 0
	}
	lr.last = 0
	lr.count = 1
	z.pending = lr
	return rcAgain, 0
}

// account is ngx_http_limit_req_account: it accounts the request in the
// zones before the last one (which lookup already accounted) and returns
// the longest delay, its excess and the index of its limit.
func (m *Model) account(limits []LimitCfg, n int, ep int64, limit int) (int64, int64, int) {
	excess := ep
	var maxDelay int64
	if excess > limits[limit].Delay {
		maxDelay = (excess - limits[limit].Delay) * 1000 / m.zones[limits[limit].Zone].rate
	}
	for n--; n >= 0; n-- {
		z := m.zones[limits[n].Zone]
		lr := z.pending
		if lr == nil {
			continue
		}
		ms, e := nextExcess(lr, z.rate, m.now)
		if ms != 0 {
			lr.last = m.now
		}
		lr.excess = e
		lr.count--
		z.pending = nil
		if e <= limits[n].Delay {
			continue
		}
		if d := (e - limits[n].Delay) * 1000 / z.rate; d > maxDelay {
			maxDelay, ep, limit = d, e, n
		}
	}
	return maxDelay, ep, limit
}

// unlock is ngx_http_limit_req_unlock: zones before the rejecting one
// drop their reference without accounting anything.
func (m *Model) unlock(limits []LimitCfg, n int) {
	for n--; n >= 0; n-- {
		z := m.zones[limits[n].Zone]
		if z.pending == nil {
			continue
		}
		z.pending.count--
		z.pending = nil
	}
}

// expire is ngx_http_limit_req_expire(ctx, 1), called only when lookup
// creates a node for a key the zone does not hold: it removes at most two
// nodes from the tail of the LRU queue, stopping at the first one that is
// in use, was accounted less than 60 s ago, or has not drained its excess.
func (m *Model) expire(z *zoneState, n int, now int64) {
	for n < 3 {
		back := z.queue.Back()
		if back == nil {
			return
		}
		lr := back.Value.(*lrNode)
		if lr.count != 0 {
			return
		}
		check := n != 0 // if (n++ != 0)
		n++
		if check {
			ms := now - lr.last
			if ms < 0 {
				ms = -ms
			}
			if ms < 60000 {
				return
			}
			if lr.excess-z.rate*ms/1000 > 0 {
				return
			}
		}
		z.queue.Remove(back)
		delete(z.nodes, lr.key)
		z.expired++
		z.forgot[lr.key]++
	}
}

// Replay runs the entries through the model in arrival order (ties in log
// order), with the time each entry gets from timeOf, and returns the
// verdicts by entry index.
func (m *Model) Replay(entries []Entry, timeOf func(*Entry) int64) []Verdict {
	idx := make([]int, len(entries))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := timeOf(&entries[idx[a]]), timeOf(&entries[idx[b]])
		if ta != tb {
			return ta < tb
		}
		return entries[idx[a]].ArrivalMS() < entries[idx[b]].ArrivalMS()
	})
	out := make([]Verdict, len(entries))
	for _, i := range idx {
		e := &entries[i]
		out[i] = m.Handle(timeOf(e), e.Path, e.Key)
	}
	return out
}
