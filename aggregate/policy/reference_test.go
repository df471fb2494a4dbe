package policy

import (
	"math/big"
	"time"
)

// The reference gateways below decide request by request, the way the
// algorithms are described, with none of the engine's shortcuts: no
// grouping of simultaneous requests, windows found with package time,
// token arithmetic in exact rationals, nginx's code transcribed line by
// line. They are slow and obviously correct; property tests compare the
// engine with them.

// refAccept returns, for each request time (ascending, ties adjacent),
// whether an ideal gateway enforcing r alone accepts it.
func refAccept(r *Rule, times []int64) []bool {
	g := newRefGate(r)
	out := make([]bool, len(times))
	for i, t := range times {
		if g.fits(t) {
			g.commit(t)
			out[i] = true
		}
	}
	return out
}

// A refGate decides one request at a time: fits says whether the rule
// would accept a request at t (changing nothing that matters), commit
// counts one accepted there. A plan accepts a request if every rule
// counting it fits, then commits it to all of them.
type refGate interface {
	fits(t int64) bool
	commit(t int64)
}

func newRefGate(r *Rule) refGate {
	switch r.Algorithm {
	case Fixed:
		return &refFixed{r: r, accepted: map[time.Time]int64{}}
	case Sliding:
		return &refSliding{r: r}
	case TokenBucket:
		return newRefToken(r)
	case LeakyBucket:
		return &refNginx{r: r}
	}
	panic("unknown algorithm")
}

// refWindowStart finds the fixed window of t with package time.
func refWindowStart(r *Rule, t int64) time.Time {
	u := time.UnixMilli(t).UTC()
	midnight := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	switch r.Calendar {
	case Day:
		return midnight
	case Week:
		back := (int(u.Weekday()) + 6) % 7 // days since Monday
		return midnight.AddDate(0, 0, -back)
	case Month:
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	case Year:
		return time.Date(u.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	// Epoch-aligned: the largest multiple of the width not after t.
	w := r.WindowMillis
	return time.UnixMilli(t - ((t%w)+w)%w).UTC()
}

func refWindowEnd(r *Rule, start time.Time) time.Time {
	switch r.Calendar {
	case Day:
		return start.AddDate(0, 0, 1)
	case Week:
		return start.AddDate(0, 0, 7)
	case Month:
		return start.AddDate(0, 1, 0)
	case Year:
		return start.AddDate(1, 0, 0)
	}
	return start.Add(time.Duration(r.WindowMillis) * time.Millisecond)
}

type refFixed struct {
	r        *Rule
	accepted map[time.Time]int64
}

func (g *refFixed) fits(t int64) bool { return g.accepted[refWindowStart(g.r, t)] < g.r.Limit }
func (g *refFixed) commit(t int64)    { g.accepted[refWindowStart(g.r, t)]++ }

type refSliding struct {
	r          *Rule
	acceptedAt []int64
}

func (g *refSliding) fits(t int64) bool {
	inWindow := int64(0)
	for _, a := range g.acceptedAt {
		if a > t-g.r.WindowMillis && a <= t {
			inWindow++
		}
	}
	return inWindow < g.r.Limit
}

func (g *refSliding) commit(t int64) { g.acceptedAt = append(g.acceptedAt, t) }

type refToken struct {
	rate, burst, tokens *big.Rat
	last                int64
	started             bool
}

func newRefToken(r *Rule) *refToken {
	return &refToken{rate: big.NewRat(r.RateMicro, 1_000_000), // tokens per second
		burst: new(big.Rat).SetInt64(r.Burst), tokens: new(big.Rat).SetInt64(r.Burst)} // full at the first request
}

// at refills the bucket up to t.
func (g *refToken) at(t int64) {
	if g.started {
		refill := new(big.Rat).Mul(g.rate, big.NewRat(t-g.last, 1000))
		g.tokens.Add(g.tokens, refill)
		if g.tokens.Cmp(g.burst) > 0 {
			g.tokens.Set(g.burst)
		}
	}
	g.started, g.last = true, t
}

func (g *refToken) fits(t int64) bool {
	g.at(t)
	return g.tokens.Cmp(big.NewRat(1, 1)) >= 0
}

func (g *refToken) commit(t int64) {
	g.at(t)
	g.tokens.Sub(g.tokens, big.NewRat(1, 1))
}

// refNginx transcribes ngx_http_limit_req_lookup and _account for one
// key: the excess is stored only when the request is accepted.
type refNginx struct {
	r                *Rule
	lrExcess, lrLast int64
	exists           bool
}

// excess is what a request at now would leave (NGX_BUSY above burst).
func (g *refNginx) excess(now int64) int64 {
	if !g.exists {
		return 0 // node not found: lr->excess = 0; NGX_OK
	}
	ms := now - g.lrLast
	excess := g.lrExcess - g.r.NginxRate*ms/1000 + 1000
	if excess < 0 {
		excess = 0
	}
	return excess
}

func (g *refNginx) fits(now int64) bool { return g.excess(now) <= g.r.Burst*1000 }

func (g *refNginx) commit(now int64) {
	excess := g.excess(now)
	if !g.exists {
		g.exists, g.lrExcess, g.lrLast = true, 0, now
		return
	}
	g.lrExcess = excess
	if now != g.lrLast {
		g.lrLast = now
	}
}
