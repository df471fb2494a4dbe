package policy

import (
	"cmp"
	"slices"
	"strings"

	"github.com/keyrate/keyrate/report/schema"
)

// LimitRows returns the rows of the limits table: every limit of every
// plan with what it allows, sorted by plan and limit name, for the
// report rows that name a limit to join.
func LimitRows(pol *Policy) []schema.LimitRow {
	var out []schema.LimitRow
	for name, p := range pol.Plans {
		for i := range p.Rules {
			out = append(out, limitRow(pol, name, &p.Rules[i]))
		}
	}
	slices.SortFunc(out, func(a, b schema.LimitRow) int {
		return cmp.Or(strings.Compare(a.Plan, b.Plan), strings.Compare(a.LimitName, b.LimitName))
	})
	return out
}

func limitRow(pol *Policy, plan string, r *Rule) schema.LimitRow {
	row := schema.LimitRow{Plan: plan, LimitName: r.Name, Algorithm: string(r.Algorithm), Scope: ScopeKey}
	if r.PerAccount {
		row.Scope = ScopeAccount
	}
	if r.Filter >= 0 && r.Filter < len(pol.Filters) {
		row.Filter = pol.Filters[r.Filter].Canonical()
	}
	switch r.Algorithm {
	case Fixed, Sliding:
		limit := r.Limit
		row.Limit = &limit
		row.Window = r.WindowText()
	case TokenBucket:
		burst, rate := r.Burst, float64(r.RateMicro)/1e6
		row.Rate, row.Burst = &rate, &burst
	case LeakyBucket:
		burst, rate := r.Burst, float64(r.NginxRate)/1000
		row.Rate, row.Burst = &rate, &burst
	}
	return row
}
