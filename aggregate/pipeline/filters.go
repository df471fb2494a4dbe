package pipeline

import (
	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/parse"
)

// filterSet feeds each request into one extra partial aggregate per
// distinct request filter of the policy's scoped limits. The per-request
// facts a filter needs (method, path, status) are known only here, at
// ingest; afterwards each filtered State is an ordinary partial aggregate
// that merges by addition like the main one.
type filterSet struct {
	filters []policy.RequestFilter
	states  []*aggregate.State
}

func newFilterSet(filters []policy.RequestFilter) filterSet {
	fs := filterSet{filters: filters}
	for range filters {
		fs.states = append(fs.states, aggregate.NewState())
	}
	return fs
}

// add records one keyed request in every filter it matches. A request in
// scope whose status the filter excludes is not counted, but if the
// gateway rejected it the rejection is still recorded for reconciliation.
func (fs *filterSet) add(key []byte, rec *parse.Record, obs *aggregate.Observation) {
	if len(fs.filters) == 0 {
		return
	}
	path := rec.Path()
	for i := range fs.filters {
		in, counted := fs.filters[i].Match(rec.Method, path, rec.Status)
		switch {
		case counted:
			fs.states[i].Add(key, obs)
		case in && obs.Rejected:
			fs.states[i].AddRejection(key, obs.TimeMillis)
		}
	}
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
