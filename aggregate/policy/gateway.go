package policy

import "math"

// An ideal gateway enforces one rule on one key's (or account's) requests
// in time order. Requests with the same timestamp are simultaneous: they
// are offered together as a count, and since they are indistinguishable
// the number accepted does not depend on any order among them. A
// rejected request consumes nothing.
//
// A plan's rules decide together (scopeRun): a request is accepted only
// if every rule that counts it has room, and is then counted in all of
// them. So a gateway first says how much room it has (room), and is then
// told how many were accepted (take), possibly fewer, because another
// rule refused the rest.
type gateway interface {
	// room presents n > 0 simultaneous requests at t (t never
	// decreasing across calls) and returns how many of them it would
	// accept. It changes nothing a fresh or equivalent state would not
	// (a window moved on, a bucket refilled).
	room(t, n int64) (accept int64)
	// usage is, as of the last room, the capacity taken by earlier
	// accepted requests plus m more, as a fraction of the capacity:
	// above 1 exactly when m is more than room's answer.
	usage(m int64) float64
	// take accepts a of the n requests room was just asked about at t
	// (0 <= a <= room's answer).
	take(t, a int64)
	// save and load carry the state across a date boundary (state.go).
	stateful
}

// A linearGateway's usage is a demand over a capacity that never
// changes: usage(m) is usageOf(demand(m)), and usageOf never decreases,
// so the peak usage over many instants is usageOf of the peak demand,
// exactly. An evaluation then keeps the peak of an integer per instant
// and divides once per audit row.
type linearGateway interface {
	gateway
	demand(m int64) int64
	usageOf(demand int64) float64
}

// offer is one rule deciding alone: the requests it has room for are
// accepted.
func offer(g gateway, t, n int64) (int64, float64) {
	a := g.room(t, n)
	usage := g.usage(n)
	g.take(t, a)
	return a, usage
}

// gateways holds a gateway of each algorithm, so that a rule's gateway
// can be started afresh for every key without an allocation: an
// evaluation starts one per rule and key, and with many keys of a few
// requests each that was most of its garbage.
type gateways struct {
	fixed   fixedGateway
	sliding slidingGateway
	token   tokenGateway
	nginx   nginxGateway
}

// fresh returns r's gateway in its fresh state, held in g (the last
// gateway fresh returned is no longer valid). A sliding window keeps its
// queue's arrays.
func (g *gateways) fresh(r *Rule) gateway {
	switch r.Algorithm {
	case Fixed:
		g.fixed = fixedGateway{rule: r, end: minInt64}
		return &g.fixed
	case Sliding:
		g.sliding = slidingGateway{limit: r.Limit, width: r.WindowMillis, times: g.sliding.times[:0], counts: g.sliding.counts[:0]}
		return &g.sliding
	case TokenBucket:
		g.token = tokenGateway{capacity: r.Burst * tokenScale, rate: r.RateMicro}
		return &g.token
	case LeakyBucket:
		g.nginx = nginxGateway{rate: r.NginxRate, burst: r.Burst * 1000}
		return &g.nginx
	}
	panic("policy: rule not validated: " + string(r.Algorithm))
}

const minInt64 = -1 << 63

// ratio is a/b as a float; any demand against no capacity (a limit of
// 0) is infinite usage.
func ratio(a, b int64) float64 {
	if b <= 0 {
		if a <= 0 {
			return 0
		}
		return math.Inf(1)
	}
	return float64(a) / float64(b)
}

// fixedGateway accepts at most limit requests per window.
type fixedGateway struct {
	rule       *Rule
	start, end int64
	used       int64
}

func (g *fixedGateway) room(t, n int64) int64 {
	if t >= g.end {
		g.start, g.end = g.rule.fixedWindow(t)
		g.used = 0
	}
	return min(n, g.rule.Limit-g.used)
}

func (g *fixedGateway) usage(m int64) float64        { return g.usageOf(g.demand(m)) }
func (g *fixedGateway) demand(m int64) int64         { return g.used + m }
func (g *fixedGateway) usageOf(demand int64) float64 { return ratio(demand, g.rule.Limit) }

func (g *fixedGateway) take(_, a int64) { g.used += a }

// slidingGateway accepts at most limit requests in any (t − width, t]. It
// keeps the accepted requests still inside the window in a queue.
type slidingGateway struct {
	limit, width int64
	times        []int64
	counts       []int64
	head         int
	sum          int64
}

func (g *slidingGateway) room(t, n int64) int64 {
	for g.head < len(g.times) && g.times[g.head] <= t-g.width {
		g.sum -= g.counts[g.head]
		g.head++
	}
	if g.head > 1024 && g.head*2 > len(g.times) { // compact the queue
		g.times = append(g.times[:0], g.times[g.head:]...)
		g.counts = append(g.counts[:0], g.counts[g.head:]...)
		g.head = 0
	}
	return min(n, g.limit-g.sum)
}

func (g *slidingGateway) usage(m int64) float64        { return g.usageOf(g.demand(m)) }
func (g *slidingGateway) demand(m int64) int64         { return g.sum + m }
func (g *slidingGateway) usageOf(demand int64) float64 { return ratio(demand, g.limit) }

// take queues the accepted requests; those of another request class at
// the same instant join the entry of that instant.
func (g *slidingGateway) take(t, a int64) {
	if a <= 0 {
		return
	}
	g.sum += a
	if n := len(g.times); n > g.head && g.times[n-1] == t {
		g.counts[n-1] += a
		return
	}
	g.times = append(g.times, t)
	g.counts = append(g.counts, a)
}

// tokenScale is how many units a token holds: with the rate in millionths
// of a token per second, one millisecond refills exactly RateMicro units.
const tokenScale = 1_000_000_000

// tokenGateway is a token bucket in exact integer units.
type tokenGateway struct {
	capacity int64 // burst * tokenScale
	rate     int64 // units refilled per millisecond
	tokens   int64
	last     int64
	started  bool
}

func newTokenGateway(r *Rule) *tokenGateway {
	return &tokenGateway{capacity: r.Burst * tokenScale, rate: r.RateMicro}
}

func (g *tokenGateway) room(t, n int64) int64 {
	if !g.started {
		g.started, g.tokens, g.last = true, g.capacity, t
	}
	g.tokens, g.last = g.refilled(t), t
	return min(n, g.tokens/tokenScale)
}

func (g *tokenGateway) usage(m int64) float64 {
	return float64(g.capacity-g.tokens)/float64(g.capacity) + float64(m)/float64(g.capacity/tokenScale)
}

func (g *tokenGateway) take(_, a int64) { g.tokens -= a * tokenScale }

// refilled returns the tokens at t >= last: min(capacity, tokens + (t −
// last)·rate). Refilling in steps gives the same as at once, which is
// what lets a saved state be refilled up to its date.
func (g *tokenGateway) refilled(t int64) int64 {
	dt := t - g.last
	if dt <= 0 {
		return g.tokens
	}
	// Filling up takes ceil(missing / rate) ms; capping dt there keeps
	// dt*rate below capacity+rate, far from overflow.
	if missing := g.capacity - g.tokens; dt >= (missing+g.rate-1)/g.rate {
		return g.capacity
	}
	return g.tokens + dt*g.rate
}

// nginxGateway is ngx_http_limit_req_module's per-key state, computed as
// ngx_http_limit_req_lookup does: a millisecond clock, excess in
// thousandths of a request, rate as requests per second times 1000.
type nginxGateway struct {
	rate    int64 // ctx->rate
	burst   int64 // limit->burst: burst * 1000
	excess  int64
	last    int64
	started bool
	// e is the excess the first request of room's n would leave.
	e int64
}

// room is ngx_http_limit_req_lookup without accounting: with several
// zones on a location nginx stores a zone's excess only once every zone
// has accepted the request (ngx_http_limit_req_account), and a request
// some zone rejects is accounted in none.
func (g *nginxGateway) room(t, n int64) int64 {
	var e int64 // the excess the first of the n requests would leave
	if !g.started {
		// A new node: nginx stores excess 0 and accepts the request.
		e = 0
	} else {
		ms := t - g.last
		// excess = lr->excess - ctx->rate * ms / 1000 + 1000, floored at
		// 0. A drain that surely empties the bucket is cut short first so
		// rate*ms cannot overflow.
		if ms > (1<<62)/g.rate {
			e = 0
		} else {
			e = max(0, g.excess-g.rate*ms/1000+1000)
		}
		if e > g.burst {
			// Rejected: nginx returns NGX_BUSY before touching the node,
			// so the other n−1 compute the same excess and fail too.
			g.e = e
			return 0
		}
	}
	// The first request is accepted with excess e; each further one at
	// the same millisecond sees ms = 0 and adds 1000.
	g.e = e
	return 1 + min(n-1, (g.burst-e)/1000)
}

func (g *nginxGateway) usage(m int64) float64        { return g.usageOf(g.demand(m)) }
func (g *nginxGateway) demand(m int64) int64         { return g.e + 1000*m }
func (g *nginxGateway) usageOf(demand int64) float64 { return float64(demand) / float64(g.burst+1000) }

func (g *nginxGateway) take(t, a int64) {
	if a <= 0 {
		return
	}
	g.excess = g.e + 1000*(a-1)
	g.last, g.started = t, true
}

const maxInt64 = 1<<63 - 1
