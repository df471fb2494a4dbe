package policy

import (
	"fmt"
	"slices"

	"github.com/keyrate/keyrate/aggregate"
)

// statusClasses are the response classes the partial aggregate counts,
// and so the only ones a billable_status setting can name: "429" is
// part of "4xx".
var statusClasses = []string{"2xx", "3xx", "4xx", "5xx", "429"}

// DefaultBillable are the billable statuses of a policy that names none:
// the requests served (2xx) or redirected (3xx), not those refused or
// failed, as API providers usually bill.
var DefaultBillable = []string{"2xx", "3xx"}

// billableClasses compiles a billable_status list (nil: the default)
// into flags in the order of statusClasses.
func billableClasses(list []string) ([5]bool, error) {
	var b [5]bool
	if list == nil {
		list = DefaultBillable
	}
	for _, s := range list {
		i := slices.Index(statusClasses, s)
		if i < 0 {
			return b, fmt.Errorf("billable status %q: want 2xx, 3xx, 4xx, 5xx or 429 (keyrate counts statuses by class)", s)
		}
		b[i] = true
	}
	if b[2] && b[4] {
		return b, fmt.Errorf("billable status 429 is part of 4xx: name one of them")
	}
	return b, nil
}

// billableOf counts c's billable requests.
func (ev *evaluator) billableOf(c *aggregate.Counters) int64 {
	var n int64
	for i, v := range [5]int64{c.Status2xx, c.Status3xx, c.Status4xx, c.Status5xx, c.Status429} {
		if ev.billable[i] {
			n += v
		}
	}
	return n
}
