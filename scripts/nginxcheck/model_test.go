package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustCfg(t *testing.T, conf string) *GatewayCfg {
	t.Helper()
	g, err := ParseGatewayCfg(conf)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

const t0 = int64(1_700_000_000_000) // a wall-clock millisecond

func statuses(vs ...Verdict) []string {
	var s []string
	for _, v := range vs {
		s = append(s, v.Status)
	}
	return s
}

func TestParseGatewayCfgRates(t *testing.T) {
	g := mustCfg(t, `
    limit_req_zone $k zone=a:1m rate=10r/s;
    limit_req_zone $k zone=b:1m rate=30r/m;
    limit_req_zone $k zone=c:1m rate=1r/m;
    limit_req_zone $k zone=d:1m rate=7r/m;
    location /x {
        limit_req zone=a burst=5 nodelay;
        limit_req zone=b burst=3 delay=2;
        limit_req zone=c;
    }`)
	for z, want := range map[string]int64{"a": 10000, "b": 500, "c": 16, "d": 116} {
		if g.ZoneRate[z] != want {
			t.Errorf("zone %s rate %d, want %d (rate*1000/scale, integer division)", z, g.ZoneRate[z], want)
		}
	}
	l := g.location("/x/y")
	if l == nil || len(l.Limits) != 3 {
		t.Fatalf("location /x: %+v", l)
	}
	if l.Limits[0].Burst != 5000 || l.Limits[0].Delay != ngxMaxIntT/1000*1000 || l.Limits[1].Delay != 2000 || l.Limits[2].Burst != 0 || l.Limits[2].Delay != 0 {
		t.Errorf("limits %+v", l.Limits)
	}
}

func TestModelBurstOfSimultaneous(t *testing.T) {
	// rate=1r/s burst=5 accepts 6 simultaneous requests: the first at excess
	// 0, then 5 more up to excess 5000 (rejected only when > burst*1000).
	m := NewModel(mustCfg(t, "limit_req_zone $k zone=z:1m rate=1r/s;\nlocation / {\n limit_req zone=z burst=5 nodelay;\n}"))
	var got []string
	for i := 0; i < 8; i++ {
		got = append(got, m.Handle(t0, "/", "k").Status)
	}
	want := []string{"PASSED", "PASSED", "PASSED", "PASSED", "PASSED", "PASSED", "REJECTED", "REJECTED"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// 999 ms later 0.999 requests drained: excess 5000-999+1000 = 5001 > 5000.
	if v := m.Handle(t0+999, "/", "k"); v.Status != "REJECTED" || v.Excess != 5001 {
		t.Fatalf("at +999 ms: %+v", v)
	}
	if v := m.Handle(t0+1000, "/", "k"); v.Status != "PASSED" {
		t.Fatalf("at +1000 ms: %+v", v)
	}
}

func TestModelDelay(t *testing.T) {
	// rate=5r/s burst=10 without nodelay: every request above excess 0 is
	// delayed by excess*1000/rate ms; the verdicts are the same as nodelay.
	m := NewModel(mustCfg(t, "limit_req_zone $k zone=z:1m rate=5r/s;\nlocation / {\n limit_req zone=z burst=10;\n}"))
	if v := m.Handle(t0, "/", "k"); v.Status != "PASSED" {
		t.Fatal(v)
	}
	if v := m.Handle(t0, "/", "k"); v.Status != "DELAYED" || v.Excess != 1000 {
		t.Fatal(v)
	}
	if v := m.Handle(t0+200, "/", "k"); v.Status != "DELAYED" || v.Excess != 1000 {
		t.Fatal(v) // 1000 - 5000*200/1000 + 1000
	}
	if v := m.Handle(t0+600, "/", "k"); v.Status != "PASSED" {
		t.Fatal(v) // drained: 1000 - 2000 + 1000 = 0
	}
}

func TestModelChainedZones(t *testing.T) {
	conf := "limit_req_zone $k zone=a:1m rate=10r/s;\nlimit_req_zone $k zone=b:1m rate=60r/m;\n" +
		"location /m {\n limit_req zone=a burst=5 nodelay;\n limit_req zone=b burst=1 nodelay;\n}\n"
	m := NewModel(mustCfg(t, conf))
	// b (1r/s, burst 1) rejects the third simultaneous request; a then
	// does not account it (unlock), so a's excess stays at 1000.
	got := statuses(m.Handle(t0, "/m", "k"), m.Handle(t0, "/m", "k"), m.Handle(t0, "/m", "k"))
	if !slices.Equal(got, []string{"PASSED", "PASSED", "REJECTED"}) {
		t.Fatalf("got %v", got)
	}
	if a := m.zones["a"].nodes["k"]; a.excess != 1000 || a.count != 0 {
		t.Fatalf("zone a node %+v: the request rejected by b must not be accounted in a", a)
	}
	// Independent zones (what keyrate does today) account it in a.
	mi := NewModel(mustCfg(t, conf))
	mi.Independent = true
	for i := 0; i < 3; i++ {
		mi.Handle(t0, "/m", "k")
	}
	if a := mi.zones["a"].nodes["k"]; a.excess != 2000 {
		t.Fatalf("independent zone a excess %d, want 2000", a.excess)
	}
	// A request rejected by a is never looked up in b: b's node is not
	// even bumped in its LRU queue.
	m2 := NewModel(mustCfg(t, "limit_req_zone $k zone=a:1m rate=1r/s;\nlimit_req_zone $k zone=b:1m rate=1r/s;\n"+
		"location /m {\n limit_req zone=a;\n limit_req zone=b burst=9 nodelay;\n}\n"))
	m2.Handle(t0, "/m", "k")
	if v := m2.Handle(t0, "/m", "k"); v.Status != "REJECTED" || v.Zone != "a" {
		t.Fatalf("second request: %+v", v)
	}
	if b := m2.zones["b"].nodes["k"]; b.excess != 0 {
		t.Fatalf("zone b excess %d: a request rejected by a must not reach b", b.excess)
	}
}

func TestModelExpire(t *testing.T) {
	conf := "limit_req_zone $k zone=a:1m rate=1r/m;\nlimit_req_zone $k zone=b:1m rate=1r/m;\n" +
		"location /forget_a {\n limit_req zone=a;\n}\nlocation /forget_b {\n limit_req zone=b;\n}\n"
	// The forgetting phase of the load, replayed: expire runs only when a
	// new key arrives, removes at most two idle (>= 60 s) drained nodes
	// from the LRU tail and stops at the first one that is not.
	_, reqs := forgetPhase()
	run := func(noExpire bool) map[string]string {
		m := NewModel(mustCfg(t, conf))
		m.NoExpire = noExpire
		got := map[string]string{}
		for _, r := range reqs {
			got[r.Key+r.Location+fmtMS(int64(r.At.Milliseconds()))] = m.Handle(t0+r.At.Milliseconds(), r.Location, r.Key).Status
		}
		return got
	}
	want := map[string]string{
		"f_one/forget_a0.000": "PASSED", "f_one/forget_b0.050": "PASSED", "f_two/forget_a0.100": "PASSED", "f_three/forget_a0.200": "PASSED",
		"f_new/forget_a61.000":   "PASSED",
		"f_three/forget_a61.300": "REJECTED", // remembered: 1000 - 16*61100/1000 = 23 > 0
		"f_one/forget_a61.500":   "PASSED",   // forgotten at 61.0: new node, excess 0
		"f_one/forget_b61.550":   "REJECTED", // zone b saw no new key: remembered
		"f_two/forget_a61.600":   "PASSED",   // forgotten with f_one (two per new node)
	}
	got := run(false)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
	// Never forgetting (keyrate today) rejects f_one and f_two at 61.5/61.6.
	never := run(true)
	if never["f_one/forget_a61.500"] != "REJECTED" || never["f_two/forget_a61.600"] != "REJECTED" {
		t.Errorf("never forgetting: %v", never)
	}
}

func TestModelExpireNeedsDrain(t *testing.T) {
	// A zone whose rate per minute is at least burst+1 forgets only keys
	// whose remembered excess would be 0 anyway: no verdict changes.
	conf := "limit_req_zone $k zone=z:1m rate=10r/s;\nlocation / {\n limit_req zone=z burst=5 nodelay;\n}\n"
	for _, noExpire := range []bool{false, true} {
		m := NewModel(mustCfg(t, conf))
		m.NoExpire = noExpire
		for i := 0; i < 6; i++ {
			m.Handle(t0, "/", "old")
		}
		m.Handle(t0+60_000, "/", "new") // expire: "old" idle 60 s, 5000-600000 <= 0: removed
		if _, ok := m.zones["z"].nodes["old"]; ok == !noExpire {
			t.Fatalf("noExpire=%v: old node present=%v", noExpire, ok)
		}
		var got []string
		for i := 0; i < 7; i++ {
			got = append(got, m.Handle(t0+60_001, "/", "old").Status)
		}
		if !slices.Equal(got, []string{"PASSED", "PASSED", "PASSED", "PASSED", "PASSED", "PASSED", "REJECTED"}) {
			t.Fatalf("noExpire=%v: %v", noExpire, got)
		}
	}
}

// How much forgetting changes verdicts: random traffic of 12 keys (gaps
// of up to 3 minutes) in zones with few requests per minute, replayed with
// nginx's expire and without it (keyrate today). Each key's accepted count
// differs by at most the number of times nginx forgot the key, and not at
// all in a zone whose rate per minute is at least burst+1. In practice
// the difference is rare even where it is possible: a forgotten key
// differs only if it returns before its remembered excess would have
// drained to 0 anyway, i.e. within (E+1000)/rate seconds of its last
// accepted request (E its excess then; 62.5 s at 1r/m without burst),
// and with a burst the first returning request is accepted either way.
func TestForgettingChangesAtMostOnePerEvent(t *testing.T) {
	zones := []struct {
		rate  string
		burst int
		never bool // rate per minute >= burst+1: forgetting cannot matter
	}{{"1r/m", 0, false}, {"2r/m", 5, false}, {"3r/m", 10, false}, {"30r/m", 3, true}, {"10r/s", 5, true}}
	for _, zc := range zones {
		var nReq, nForgot, nDiff, nFlip int
		conf := fmt.Sprintf("limit_req_zone $k zone=z:1m rate=%s;\nlocation / {\n limit_req zone=z burst=%d nodelay;\n}\n", zc.rate, zc.burst)
		if zc.burst == 0 {
			conf = fmt.Sprintf("limit_req_zone $k zone=z:1m rate=%s;\nlocation / {\n limit_req zone=z;\n}\n", zc.rate)
		}
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, 7))
			type req struct {
				t   int64
				key string
			}
			var reqs []req
			now := t0
			for i := 0; i < 3000; i++ {
				// Bursts and long pauses: idle gaps of up to 3 minutes.
				switch rng.IntN(10) {
				case 0:
					now += int64(rng.IntN(180_000))
				case 1, 2:
				default:
					now += int64(rng.IntN(5_000))
				}
				reqs = append(reqs, req{now, fmt.Sprintf("k%d", rng.IntN(12))})
			}
			acc := func(noExpire bool) (map[string]int, map[string]int, []bool) {
				m := NewModel(mustCfg(t, conf))
				m.NoExpire = noExpire
				a := map[string]int{}
				var rejected []bool
				for _, r := range reqs {
					rej := m.Handle(r.t, "/", r.key).Status == "REJECTED"
					if !rej {
						a[r.key]++
					}
					rejected = append(rejected, rej)
				}
				return a, m.zones["z"].forgot, rejected
			}
			withExpire, forgot, r1 := acc(false)
			never, _, r2 := acc(true)
			for i := range r1 {
				if r1[i] != r2[i] {
					nFlip++
				}
			}
			nReq += len(reqs)
			for k := range withExpire {
				d := withExpire[k] - never[k]
				nForgot += forgot[k]
				nDiff += max(d, -d)
				if d < -forgot[k] || d > forgot[k] {
					t.Errorf("%s burst=%d seed %d key %s: %d accepted with expire, %d without, forgotten %d times", zc.rate, zc.burst, seed, k, withExpire[k], never[k], forgot[k])
				}
				if zc.never && d != 0 {
					t.Errorf("%s burst=%d: forgetting changed key %s by %d", zc.rate, zc.burst, k, d)
				}
			}
		}
		t.Logf("rate=%s burst=%d: %d requests, %d keys forgotten; %d verdicts differ, accepted counts per key by %d in all", zc.rate, zc.burst, nReq, nForgot, nFlip, nDiff)
	}
}
