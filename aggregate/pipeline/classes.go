package pipeline

import (
	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/parse"
)

// classSet routes each keyed request to the State of its request class
// (aggregate.Class): bit i is set when Config.Filters[i] (a scoped
// limit's methods, paths and excluded statuses) counts the request. The
// per-request facts a filter needs are known only here, at ingest;
// afterwards each class's State is an ordinary partial aggregate that
// merges by addition. A request is in exactly one class, so a policy
// without scoped limits has class 0 only and the per-request cost of
// classes is then nil (see aggregator.observe).
type classSet struct {
	filters []policy.RequestFilter
	opts    []aggregate.StateOption
	// classes[i] is the class of states[i]; states[0] is class 0's,
	// made up front, the others as their classes are first seen.
	classes []aggregate.Class
	states  []*aggregate.State
	last    int // the index of the class used last
}

func newClassSet(filters []policy.RequestFilter, opts ...aggregate.StateOption) classSet {
	return classSet{filters: filters, opts: opts,
		classes: []aggregate.Class{0}, states: []*aggregate.State{aggregate.NewState(opts...)}}
}

// classOf returns the class of a request: the filters that count it.
func (cs *classSet) classOf(rec *parse.Record) aggregate.Class {
	var c aggregate.Class
	path := rec.Path()
	for i := range cs.filters {
		if _, counted := cs.filters[i].Match(rec.Method, path, rec.Status); counted {
			c |= 1 << uint(i)
		}
	}
	return c
}

// add records one keyed request in the State of its class.
func (cs *classSet) add(key []byte, rec *parse.Record, obs *aggregate.Observation) {
	cs.state(cs.classOf(rec)).Add(key, obs)
}

// state returns class c's State, making it on c's first request. A run
// meets few classes, and consecutive requests mostly share one.
func (cs *classSet) state(c aggregate.Class) *aggregate.State {
	if cs.classes[cs.last] == c {
		return cs.states[cs.last]
	}
	for i, x := range cs.classes {
		if x == c {
			cs.last = i
			return cs.states[i]
		}
	}
	cs.classes = append(cs.classes, c)
	cs.states = append(cs.states, aggregate.NewState(cs.opts...))
	cs.last = len(cs.states) - 1
	return cs.states[cs.last]
}

// rejected reports whether the real gateway rejected the current record:
// by the limiter's logged verdict when --verdict-field names one, else
// by its status.
func (r *aggregator) rejected() bool {
	if r.cfg.VerdictField != "" {
		v := r.rec.Field(r.cfg.VerdictField)
		if v == nil {
			r.verdictMissing++
		}
		return VerdictRejected(v)
	}
	return r.throttle.has(r.rec.Status)
}

// statusSet is a set of HTTP statuses (100 to 599; others are never
// members): an array, since it is consulted for every line.
type statusSet [600]bool

func (s *statusSet) add(code int) {
	if uint(code) < uint(len(s)) {
		s[code] = true
	}
}

func (s *statusSet) has(code int) bool { return uint(code) < uint(len(s)) && s[code] }

// VerdictRejected reports whether an nginx $limit_req_status value means
// the limiter rejected the request: REJECTED, or REJECTED_DRY_RUN (in
// dry-run mode nginx lets the request through but logs what it would
// have done). PASSED, DELAYED, DELAYED_DRY_RUN, an empty value and "-"
// (the limiter did not run) are not rejections.
func VerdictRejected(v []byte) bool {
	return string(v) == "REJECTED" || string(v) == "REJECTED_DRY_RUN"
}
