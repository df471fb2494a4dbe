package policy

import (
	"slices"
	"strconv"
	"strings"
)

// RequestFilter selects the requests a scoped limit counts. A filter needs
// each request's method, path and status, which the partial aggregate
// does not keep, so the pipeline feeds every request matching a
// filter into one extra State per distinct filter; the evaluators then
// read that State's series exactly as they read the key's full series.
type RequestFilter struct {
	// Methods, if not empty, are the methods in scope (upper case).
	Methods []string
	// Paths, if not empty, are globs over the request path (query
	// excluded): '*' matches any run of bytes, '/' included, and '?' one
	// byte; everything else matches itself.
	Paths []string
	// ExcludeStatus lists statuses never counted against the limit. A
	// request excluded this way that the gateway rejected still counts as
	// an observed rejection, so reconciliation sees it.
	ExcludeStatus []int
}

// Canonical returns a string identifying the filter's meaning, so limits
// with the same scope share one State.
func (f *RequestFilter) Canonical() string {
	m := slices.Clone(f.Methods)
	slices.Sort(m)
	p := slices.Clone(f.Paths)
	slices.Sort(p)
	s := slices.Clone(f.ExcludeStatus)
	slices.Sort(s)
	var b strings.Builder
	b.WriteString("methods=" + strings.Join(slices.Compact(m), ","))
	b.WriteString(" paths=" + strings.Join(slices.Compact(p), ","))
	b.WriteString(" exclude=")
	for i, st := range slices.Compact(s) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(st))
	}
	return b.String()
}

// IsZero reports whether the filter selects every request unchanged.
func (f *RequestFilter) IsZero() bool {
	return len(f.Methods) == 0 && len(f.Paths) == 0 && len(f.ExcludeStatus) == 0
}

// Match reports whether a request is in the filter's scope and, if so,
// whether it is counted (its status not excluded). It does not allocate.
func (f *RequestFilter) Match(method, path []byte, status int) (inScope, counted bool) {
	if len(f.Methods) > 0 {
		ok := false
		for _, m := range f.Methods {
			if string(method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false, false
		}
	}
	if len(f.Paths) > 0 {
		ok := false
		for _, g := range f.Paths {
			if MatchGlob(g, path) {
				ok = true
				break
			}
		}
		if !ok {
			return false, false
		}
	}
	return true, !slices.Contains(f.ExcludeStatus, status)
}

// MatchGlob matches s against pattern, where '*' matches any run of bytes
// (including '/') and '?' any single byte. It runs in O(len(pattern) *
// len(s)) at worst, without backtracking blow-up or allocation.
func MatchGlob(pattern string, s []byte) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
