// Package html writes a run's audit as one self-contained report.html: the
// run's summary, the keys that went furthest over their plan and those whose
// excess the gateway served, one chart per key and limit of the key's
// requests against the limit's allowance, per-plan and per-limit totals,
// data-quality numbers, and a search over up to MaxIndexKeys keys.
//
// The page needs no network access: CSS, SVG charts (drawn with
// gonum.org/v1/plot), the key index (JSON) and one small script are
// inline, and a Content-Security-Policy forbids loading anything. Every
// string from the logs (keys, plans, paths) is escaped by html/template,
// so a key such as </script> is shown as text.
//
// The model is plain values: this package does not import aggregate/*;
// the caller fills a Report (Collector ranks keys as they stream by) and
// calls Write. The same Report gives byte-identical output.
package html

import (
	"cmp"
	"time"
)

// DefaultTopN is the number of keys in each top list when a Collector is
// given no other.
const DefaultTopN = 10

// MaxIndexKeys is the most keys the page's search index holds. At about
// 36 bytes of JSON per key the index then is 3.6 MB, parsed by a browser
// in well under a second. Beyond it, the index keeps the keys that come
// first in IndexOrder and the page says how many it left out (the CSV and
// Parquet tables hold every key).
const MaxIndexKeys = 100_000

// Report is everything report.html shows. Numbers are shown as given:
// Write computes only percentages and each chart's totals, merges a
// chart's buckets beyond MaxChartPoints, and sorts and cuts the index.
type Report struct {
	// Title heads the page; "" means "keyrate audit".
	Title string
	// Generated is shown as the generation time when it is not zero. The
	// page carries no clock reading of its own, so the same Report always
	// gives the same bytes.
	Generated time.Time

	Summary Summary
	// Inputs are the files read, in the order they are listed; the page
	// shows the first MaxInputRows.
	Inputs []Input
	Plans  []PlanRow
	Limits []LimitRow

	// TopExcess are the keys with the most excess, most first, and
	// TopLeaked those with the most leaked requests (Collector ranks them).
	TopExcess []KeyRow
	TopLeaked []KeyRow
	// Charts holds, for every key of TopExcess and TopLeaked (see
	// ChartKeys), one chart per limit that rejected any of its requests.
	// Other keys' entries are ignored.
	Charts map[string][]Chart

	// Index is the keys the search box searches, in any order: Write sorts
	// them by IndexOrder and keeps the first MaxIndexKeys. Summary.Keys
	// says how many keys there are in all.
	Index []KeyRow
}

// Summary is the run at a glance.
type Summary struct {
	// From and To bound the requests' times (UTC); zero when no line
	// parsed.
	From, To time.Time

	Lines    int64 // lines read
	Requests int64 // requests with a valid key
	Keys     int64 // distinct keys
	Plans    int64 // plans with at least one key

	// Excess counts the requests the ideal gateway rejected (the ideal
	// rejections); Caught those of them the real gateway rejected too,
	// Leaked those it served. FalseThrottles counts the requests the real
	// gateway rejected although the plan allowed them.
	Excess, Caught, Leaked, FalseThrottles int64

	// Data quality: lines that are not a log line of the format, requests
	// without a key, and keys that --key-pattern refused.
	Malformed, Keyless, InvalidKeys int64
	// UnplannedKeys counts keys that had no plan under the policy.
	UnplannedKeys int64

	Version      string // keyrate's version
	Policy       string // what the limits came from: a policy file's path, or the --limit specs
	PolicyDigest string
	// KeyDisplay is how keys are shown: raw, prefix or hmac (--key-display).
	KeyDisplay string
}

// Input is one file read.
type Input struct {
	Path                                   string
	Format                                 string
	Lines, Malformed, Keyless, InvalidKeys int64
}

// MaxInputRows is the most input files the page lists; the manifest lists
// them all.
const MaxInputRows = 200

// KeyRow is one key's totals over the run.
type KeyRow struct {
	Key  string // as --key-display shows it
	Plan string // "" when the key had no plan

	Requests                               int64
	Excess, Caught, Leaked, FalseThrottles int64
}

// PlanRow is one plan's totals.
type PlanRow struct {
	Plan string
	// Keys on the plan, and KeysOver those of them with any excess.
	Keys, KeysOver                         int64
	Requests                               int64
	Excess, Caught, Leaked, FalseThrottles int64
}

// LimitRow is one limit's totals. A request the ideal gateway rejected
// counts under every limit that rejected it.
type LimitRow struct {
	Plan, Limit string
	// Definition says what the limit allows, e.g. "60 per 1m (fixed)" or
	// "10 r/s, burst 20 (leaky-bucket)".
	Definition string
	// KeysOver counts the keys this limit rejected requests of.
	KeysOver int64
	// Excess counts the requests this limit rejected; Caught and Leaked
	// split them by what the real gateway did.
	Excess, Caught, Leaked int64
}

// Chart is one key's requests in consecutive buckets against one limit.
// Requests, Allowance, Ideal and Real have one value per bucket.
type Chart struct {
	Limit      string // the limit's name, as in LimitRow
	Definition string // as in LimitRow

	Start time.Time     // the first bucket's start
	Step  time.Duration // a bucket's width
	// Requests counts the key's requests this limit counted in each
	// bucket.
	Requests []int64
	// Allowance is what the limit allows per bucket: for fixed and
	// sliding windows the count scaled to the bucket, for token and leaky
	// buckets the sustained rate times Step. Drawn as a step line.
	Allowance []float64
	// Ideal counts the requests this limit rejected in each bucket; Real
	// the requests the real gateway rejected (for any reason).
	Ideal, Real []int64
}

// ChartKeys returns the keys of TopExcess then TopLeaked, each once: the
// keys Charts needs entries for, in the order the page shows them.
func (r *Report) ChartKeys() []string {
	seen := make(map[string]bool, len(r.TopExcess)+len(r.TopLeaked))
	var keys []string
	for _, list := range [][]KeyRow{r.TopExcess, r.TopLeaked} {
		for _, k := range list {
			if !seen[k.Key] {
				seen[k.Key] = true
				keys = append(keys, k.Key)
			}
		}
	}
	return keys
}

// IndexOrder is the order of the search index, and of which keys it keeps
// when there are more than MaxIndexKeys: most excess first, then most
// leaked, most false throttles, most requests, and by key.
func IndexOrder(a, b KeyRow) int {
	if c := cmp.Compare(b.Excess, a.Excess); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Leaked, a.Leaked); c != 0 {
		return c
	}
	if c := cmp.Compare(b.FalseThrottles, a.FalseThrottles); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// ExcessOrder ranks TopExcess: most excess first, ties by key.
func ExcessOrder(a, b KeyRow) int {
	if c := cmp.Compare(b.Excess, a.Excess); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// LeakedOrder ranks TopLeaked: most leaked first, ties by key.
func LeakedOrder(a, b KeyRow) int {
	if c := cmp.Compare(b.Leaked, a.Leaked); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}
