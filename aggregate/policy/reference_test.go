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
// whether an ideal gateway enforcing r accepts it.
func refAccept(r *Rule, times []int64) []bool {
	switch r.Algorithm {
	case Fixed:
		return refFixed(r, times)
	case Sliding:
		return refSliding(r, times)
	case TokenBucket:
		return refToken(r, times)
	case LeakyBucket:
		return refNginx(r, times)
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

func refFixed(r *Rule, times []int64) []bool {
	out := make([]bool, len(times))
	accepted := map[time.Time]int64{}
	for i, t := range times {
		w := refWindowStart(r, t)
		if accepted[w] < r.Limit {
			accepted[w]++
			out[i] = true
		}
	}
	return out
}

func refSliding(r *Rule, times []int64) []bool {
	out := make([]bool, len(times))
	var acceptedAt []int64
	for i, t := range times {
		inWindow := int64(0)
		for _, a := range acceptedAt {
			if a > t-r.WindowMillis && a <= t {
				inWindow++
			}
		}
		if inWindow < r.Limit {
			acceptedAt = append(acceptedAt, t)
			out[i] = true
		}
	}
	return out
}

func refToken(r *Rule, times []int64) []bool {
	out := make([]bool, len(times))
	rate := big.NewRat(r.RateMicro, 1_000_000) // tokens per second
	burst := new(big.Rat).SetInt64(r.Burst)
	one := big.NewRat(1, 1)
	tokens := new(big.Rat).Set(burst) // full at the first request
	last := int64(0)
	for i, t := range times {
		if i > 0 {
			refill := new(big.Rat).Mul(rate, big.NewRat(t-last, 1000))
			tokens.Add(tokens, refill)
			if tokens.Cmp(burst) > 0 {
				tokens.Set(burst)
			}
		}
		last = t
		if tokens.Cmp(one) >= 0 {
			tokens.Sub(tokens, one)
			out[i] = true
		}
	}
	return out
}

// refNginx transcribes ngx_http_limit_req_lookup for one key.
func refNginx(r *Rule, times []int64) []bool {
	out := make([]bool, len(times))
	var lrExcess, lrLast int64
	exists := false
	burst := r.Burst * 1000 // limit->burst
	for i, now := range times {
		if !exists {
			// node not found: lr->excess = 0; lr->last = now; NGX_OK
			exists, lrExcess, lrLast = true, 0, now
			out[i] = true
			continue
		}
		ms := now - lrLast
		excess := lrExcess - r.NginxRate*ms/1000 + 1000
		if excess < 0 {
			excess = 0
		}
		if excess > burst {
			continue // NGX_BUSY
		}
		lrExcess = excess
		if ms != 0 {
			lrLast = now
		}
		out[i] = true
	}
	return out
}
