package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// A Request is one scheduled request of the load: which key sends it, on
// which of the key's client connections, when (offset from the start), to
// which location, and how.
type Request struct {
	Seq      int           // unique, in schedule order; sent as ?seq=N
	At       time.Duration // offset from the start of the run
	Key      string
	Client   int // index of the key's client connection
	Location string
	ViaQuery bool // key in ?api_key= instead of the X-Api-Key header
	SleepMS  int  // /slow only: how long the upstream sleeps
}

// A KeyPlan is one key's traffic: a pattern against one location (or all
// of them, for the mixed keys), sent over Clients concurrent connections.
type KeyPlan struct {
	Key      string
	Location string // "" for mixed keys
	Pattern  string
	Clients  int
	ViaQuery bool
}

// location describes a limited location for pattern generation: its
// base rate (requests per second) and burst. For /multi the base is the
// second zone's long-term rate region, so that both zones reject.
type location struct {
	path  string
	rate  float64
	burst int
}

var locations = []location{
	{"/nodelay", 10, 5},
	{"/perminute", 0.5, 3},
	{"/delay", 5, 10},
	{"/slow", 10, 5},
	{"/multi", 2, 5},
}

// Patterns, from steady to bursty. Each is a function of the location's
// rate R and burst B over the run's duration.
var patterns = []string{"steady-under", "steady-over", "bursty", "poisson", "onoff", "query"}

// ScheduleConfig bounds a schedule.
type ScheduleConfig struct {
	Seed        uint64
	Duration    time.Duration // the last request is scheduled before this
	Forget      bool          // add the 62-second forgetting phase
	MaxRequests int           // refuse to build a bigger schedule
}

// BuildSchedule returns the plans and the requests of a run, sorted by
// time (then Seq). The same config always gives the same schedule.
func BuildSchedule(cfg ScheduleConfig) ([]KeyPlan, []Request, error) {
	if cfg.Duration <= 0 || cfg.Duration > 2*time.Minute {
		return nil, nil, fmt.Errorf("duration %v: want more than 0 and at most 2m", cfg.Duration)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6b657972617465)) // "keyrate"
	var plans []KeyPlan
	var reqs []Request
	add := func(at time.Duration, p KeyPlan, loc string, i int) {
		r := Request{At: at, Key: p.Key, Client: i % p.Clients, Location: loc, ViaQuery: p.ViaQuery}
		if loc == "/slow" {
			r.SleepMS = 20 + rng.IntN(380)
			if rng.IntN(10) == 0 {
				r.SleepMS = 1200
			}
		}
		reqs = append(reqs, r)
	}
	d := cfg.Duration.Seconds()
	for _, loc := range locations {
		for _, pat := range patterns {
			p := KeyPlan{Key: fmt.Sprintf("k_%s_%s", loc.path[1:], pat), Location: loc.path, Pattern: pat, Clients: 1}
			switch pat {
			case "bursty":
				p.Clients = 4
			case "poisson":
				p.Clients = 2
			case "onoff":
				p.Clients = 3
			case "query":
				p.ViaQuery = true
			}
			if loc.path == "/delay" && pat == "bursty" {
				p.Clients = 12 // a queue of delayed requests needs parallel connections
			}
			if loc.path == "/slow" {
				p.Clients *= 4 // each connection waits for the upstream
			}
			plans = append(plans, p)
			phase := rng.Float64()
			i := 0
			every := func(interval float64) {
				for t := phase * interval; t < d; t += interval {
					add(seconds(t), p, loc.path, i)
					i++
				}
			}
			switch pat {
			case "steady-under":
				every(1 / (0.8 * loc.rate))
			case "steady-over":
				every(1 / (1.3 * loc.rate))
			case "query":
				every(1 / (1.2 * loc.rate))
			case "bursty":
				n := loc.burst + 6
				period := math.Max(1, float64(n)/(1.2*loc.rate))
				for t := phase * period; t < d; t += period {
					for j := 0; j < n; j++ {
						add(seconds(t), p, loc.path, i)
						i++
					}
				}
			case "poisson":
				for t := phase / loc.rate; t < d; t += rng.ExpFloat64() / (1.2 * loc.rate) {
					add(seconds(t), p, loc.path, i)
					i++
				}
			case "onoff": // 3 s at 2.5 R, 3 s off
				for t := phase * 3; t < d; t += 1 / (2.5 * loc.rate) {
					if int(t/3)%2 == 1 {
						t = (math.Floor(t/3) + 1) * 3
						if t >= d {
							break
						}
					}
					add(seconds(t), p, loc.path, i)
					i++
				}
			}
		}
	}
	// Mixed keys: Poisson traffic spread over every location.
	for m := 1; m <= 2; m++ {
		p := KeyPlan{Key: fmt.Sprintf("k_mixed_%d", m), Pattern: "poisson-all", Clients: 2, ViaQuery: m == 2}
		plans = append(plans, p)
		i := 0
		for t := rng.Float64() / 3; t < d; t += rng.ExpFloat64() / 3 {
			add(seconds(t), p, locations[rng.IntN(len(locations))].path, i)
			i++
		}
	}
	if cfg.Forget {
		fp, freqs := forgetPhase()
		plans = append(plans, fp...)
		reqs = append(reqs, freqs...)
	}
	sort.SliceStable(reqs, func(a, b int) bool { return reqs[a].At < reqs[b].At })
	for i := range reqs {
		reqs[i].Seq = i + 1
	}
	if cfg.MaxRequests > 0 && len(reqs) > cfg.MaxRequests {
		return nil, nil, fmt.Errorf("schedule of %d requests exceeds the bound of %d (shorten the duration)", len(reqs), cfg.MaxRequests)
	}
	return plans, reqs, nil
}

// forgetPhase shows when nginx forgets a key (ngx_http_limit_req_expire).
// Zones forget_a and forget_b are 1r/m without burst (rate 16 in nginx's
// thousandths): a key that returns after 61 s still has excess
// 1000 - 16*61.x = 16..23 > 0 and is rejected, unless nginx forgot it.
//
//	t=0.0/0.1/0.2  f_one, f_two, f_three: first request in forget_a (and f_one in forget_b)
//	t=61.0         f_new, a new key in forget_a: expire removes up to two
//	               idle-and-drained nodes from the LRU tail: f_one, f_two
//	t=61.3         f_three returns to forget_a: remembered, REJECTED
//	t=61.5/61.6    f_one, f_two return to forget_a: forgotten, PASSED (new node);
//	               f_one returns to forget_b (no new key there): REJECTED
func forgetPhase() ([]KeyPlan, []Request) {
	var plans []KeyPlan
	for _, k := range []string{"f_one", "f_two", "f_three", "f_new"} {
		plans = append(plans, KeyPlan{Key: k, Location: "/forget_a", Pattern: "forget", Clients: 1})
	}
	at := func(s float64, key, loc string) Request {
		return Request{At: seconds(s), Key: key, Location: loc}
	}
	return plans, []Request{
		at(0.0, "f_one", "/forget_a"), at(0.05, "f_one", "/forget_b"),
		at(0.1, "f_two", "/forget_a"), at(0.2, "f_three", "/forget_a"),
		at(61.0, "f_new", "/forget_a"),
		at(61.3, "f_three", "/forget_a"),
		at(61.5, "f_one", "/forget_a"), at(61.55, "f_one", "/forget_b"),
		at(61.6, "f_two", "/forget_a"),
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
