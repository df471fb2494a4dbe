package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// AuditRow is a row of keyrate's throttle_audit.csv (the totals over the
// run of the per-bucket columns). FalseThrot is what the limit's rows
// leave unexplained: real rejections among its requests that no
// rejection of its own caught (gateway_rejected − caught).
type AuditRow struct {
	Key, Limit                                              string
	Requests, Allowed, Excess, Observed, Leaked, FalseThrot int64
}

// Ideal is what keyrate's plan rejected among the limit's requests: for
// a location's only zone its excess; for a zone of a location with
// several, the location's rejections, whichever zone refused them (as
// nginx's REJECTED, which does not say which zone rejected).
func (r AuditRow) Ideal() int64 { return r.Requests - r.Allowed }

// readTable reads DIR/NAME.csv, checking that it has the columns need:
// its rows and the index of each column.
func readTable(dir, name string, need ...string) ([][]string, map[string]int, error) {
	f, err := os.Open(filepath.Join(dir, name+".csv"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s: empty %s.csv", dir, name)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, c := range need {
		if _, ok := col[c]; !ok {
			return nil, nil, fmt.Errorf("%s: %s.csv has no column %q", dir, name, c)
		}
	}
	return recs[1:], col, nil
}

// ReadAudit reads DIR/throttle_audit.csv.
func ReadAudit(dir string) (map[[2]string]AuditRow, error) {
	recs, col, err := readTable(dir, "throttle_audit", "key", "limit_name", "requests", "allowed", "excess", "gateway_rejected", "caught", "leaked")
	if err != nil {
		return nil, err
	}
	out := map[[2]string]AuditRow{}
	for _, r := range recs {
		n := func(c string) int64 { v, _ := strconv.ParseInt(r[col[c]], 10, 64); return v }
		row := AuditRow{Key: r[col["key"]], Limit: r[col["limit_name"]], Requests: n("requests"), Allowed: n("allowed"), Excess: n("excess"),
			Observed: n("gateway_rejected"), Leaked: n("leaked"), FalseThrot: n("gateway_rejected") - n("caught")}
		out[[2]string{row.Limit, row.Key}] = row
	}
	return out, nil
}

// Run is a keyrate run to compare: a name and its --out directory.
type Run struct {
	Name string
	Dir  string
	rows map[[2]string]AuditRow
}

// limitOf maps each location's limits (zones) to the location, to count
// nginx's verdicts per limit from the access log.
func limitsByLocation(g *GatewayCfg) map[string][]string {
	out := map[string][]string{}
	for _, l := range g.Locations {
		for _, lim := range l.Limits {
			out[l.Prefix] = append(out[l.Prefix], lim.Zone)
		}
	}
	return out
}

// nginxCounts counts per (limit, key) the requests and nginx's REJECTED
// verdicts from the access log; a request of a location with several
// zones counts for each of them, as keyrate's gateway_rejected does.
func nginxCounts(g *GatewayCfg, entries []Entry) (req, rej map[[2]string]int64) {
	req, rej = map[[2]string]int64{}, map[[2]string]int64{}
	for i := range entries {
		e := &entries[i]
		loc := g.location(e.Path)
		if loc == nil || e.Key == "" {
			continue
		}
		for _, l := range loc.Limits {
			k := [2]string{l.Zone, e.Key}
			req[k]++
			if e.Verdict == "REJECTED" || e.Verdict == "REJECTED_DRY_RUN" {
				rej[k]++
			}
		}
	}
	return req, rej
}

// CompareOptions says what to print and what must hold.
type CompareOptions struct {
	PerKey      bool            // print every (limit, key) row that differs, not only totals
	Strict      map[string]bool // runs that must match nginx exactly
	AllowDiffer map[string]bool // limits exempt from Strict
	// Ambiguous bounds per (limit, key) how many ideal rejections Strict
	// tolerates as difference; Flips how many leaked and false
	// throttles (nil: Ambiguous's). keyrate reconciles each instant
	// once, so a verdict a 1-ms clock difference flips (AmbiguousCounts)
	// is one leaked request and one false throttle, even where it does
	// not change the count of rejections.
	Ambiguous map[[2]string]int64
	Flips     map[[2]string]int64
}

// AmbiguousCounts replays the log through the model at arrival time and
// counts per (zone, key) the verdicts that a slackMS difference between
// nginx's limiter clock and the logged one could flip.
func AmbiguousCounts(g *GatewayCfg, entries []Entry, slackMS int64) map[[2]string]int64 {
	out := map[[2]string]int64{}
	if slackMS <= 0 {
		return out
	}
	m := NewModel(g)
	m.SlackMS = slackMS
	vs := m.Replay(entries, func(e *Entry) int64 { return e.ArrivalMS() })
	for i, v := range vs {
		if !v.Ambiguous {
			continue
		}
		if loc := g.location(entries[i].Path); loc != nil {
			for _, l := range loc.Limits {
				out[[2]string{l.Zone, entries[i].Key}]++
			}
		}
	}
	return out
}

// Compare prints, per limit (and key), nginx's REJECTED count against each
// run's ideal rejections (excess), leaked and false throttles, and returns
// the number of strict failures.
func Compare(w io.Writer, g *GatewayCfg, entries []Entry, runs []Run, opt CompareOptions) (int, error) {
	for i := range runs {
		rows, err := ReadAudit(runs[i].Dir)
		if err != nil {
			return 0, err
		}
		runs[i].rows = rows
	}
	req, rej := nginxCounts(g, entries)
	// The zones of a location with several: their rows' leaked and false
	// throttles are each zone's share of the location's (CheckLocation
	// checks the location's own).
	joint := map[string]bool{}
	for _, zones := range limitsByLocation(g) {
		if len(zones) > 1 {
			for _, z := range zones {
				joint[z] = true
			}
		}
	}
	var limits []string
	seen := map[string]bool{}
	for _, l := range g.Locations {
		for _, lim := range l.Limits {
			if !seen[lim.Zone] {
				seen[lim.Zone] = true
				limits = append(limits, lim.Zone)
			}
		}
	}
	keysOf := map[string][]string{}
	for k := range req {
		keysOf[k[0]] = append(keysOf[k[0]], k[1])
	}
	header := "| limit | key | requests | nginx REJECTED | flippable by 1 ms |"
	sep := "|---|---|---:|---:|---:|"
	for _, r := range runs {
		header += fmt.Sprintf(" %s: ideal | leaked | false |", r.Name)
		sep += "---:|---:|---:|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, sep)
	failures := 0
	for _, lim := range limits {
		keys := keysOf[lim]
		sort.Strings(keys)
		var tReq, tRej, tAmb int64
		tot := make([]AuditRow, len(runs))
		var detail []string
		for _, key := range keys {
			k := [2]string{lim, key}
			tReq += req[k]
			tRej += rej[k]
			tol := opt.Ambiguous[k]
			tAmb += tol
			flips := tol
			if opt.Flips != nil {
				flips = opt.Flips[k]
			}
			line := fmt.Sprintf("| %s | %s | %d | %d | %d |", lim, key, req[k], rej[k], tol)
			differs := false
			for i, r := range runs {
				row, ok := r.rows[k]
				if !ok {
					row = AuditRow{}
				}
				tot[i].Excess += row.Ideal()
				tot[i].Leaked += row.Leaked
				tot[i].FalseThrot += row.FalseThrot
				tot[i].Observed += row.Observed
				leaked, falseThrot := row.Leaked, row.FalseThrot
				if joint[lim] {
					leaked, falseThrot = 0, 0
				}
				bad := row.Ideal() != rej[k] || leaked != 0 || falseThrot != 0 || row.Observed != rej[k] || row.Requests != req[k]
				differs = differs || bad
				outside := abs64(row.Ideal()-rej[k]) > tol || leaked > flips || falseThrot > flips ||
					row.Observed != rej[k] || row.Requests != req[k]
				if outside && opt.Strict[r.Name] && !opt.AllowDiffer[lim] {
					failures++
				}
				line += fmt.Sprintf(" %d | %d | %d |", row.Ideal(), row.Leaked, row.FalseThrot)
			}
			if differs {
				detail = append(detail, line)
			}
		}
		line := fmt.Sprintf("| **%s** | all %d keys | %d | %d | %d |", lim, len(keys), tReq, tRej, tAmb)
		for i := range runs {
			line += fmt.Sprintf(" %d | %d | %d |", tot[i].Excess, tot[i].Leaked, tot[i].FalseThrot)
		}
		fmt.Fprintln(w, line)
		if opt.PerKey {
			for _, d := range detail {
				fmt.Fprintln(w, d)
			}
		}
	}
	return failures, nil
}

// ModelReport replays the log through the nginx model in several variants
// and prints, per location, how many requests each variant rejects where
// nginx served them and the reverse, after pairing requests of the same
// key and arrival millisecond (which of two simultaneous requests nginx
// rejects is arbitrary; only their number is not).
func ModelReport(w io.Writer, g *GatewayCfg, entries []Entry, errEvents []ErrorLogEvent) {
	arrival := func(e *Entry) int64 { return e.ArrivalMS() }
	variants := []struct {
		name  string
		time  func(*Entry) int64
		setup func(*Model)
	}{
		{"nginx model, arrival ($msec-$request_time)", arrival, nil},
		{"nginx model, arrival, never forgetting", arrival, func(m *Model) { m.NoExpire = true }},
		{"arrival, zones of a location independent", arrival, func(m *Model) { m.Independent = true }},
		{"nginx model, log time ($msec)", func(e *Entry) int64 { return e.LogMS }, nil},
		{"nginx model, whole seconds ($time_local)", func(e *Entry) int64 { return e.LocalSec * 1000 }, nil},
	}
	var locs []string
	for _, l := range g.Locations {
		if len(l.Limits) > 0 {
			locs = append(locs, l.Prefix)
		}
	}
	fmt.Fprintf(w, "| variant | location | requests | nginx REJECTED | replay REJECTED | replay rejects, nginx served | nginx rejects, replay served | DELAYED/PASSED swapped |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|\n")
	var modelVerdicts []Verdict
	for vi, v := range variants {
		m := NewModel(g)
		if v.setup != nil {
			v.setup(m)
		}
		verdicts := m.Replay(entries, v.time)
		if vi == 0 {
			modelVerdicts = verdicts
		}
		type gk struct {
			loc, key string
			ms       int64
		}
		type cnt struct{ nRej, mRej, nDel, mDel int64 }
		groups := map[gk]*cnt{}
		perLoc := map[string]*[5]int64{} // requests, nginx rej, model rej, over, under
		for i := range entries {
			e := &entries[i]
			loc := g.location(e.Path)
			if loc == nil || len(loc.Limits) == 0 {
				continue
			}
			k := gk{loc.Prefix, e.Key, e.ArrivalMS()}
			c := groups[k]
			if c == nil {
				c = &cnt{}
				groups[k] = c
			}
			pl := perLoc[loc.Prefix]
			if pl == nil {
				pl = &[5]int64{}
				perLoc[loc.Prefix] = pl
			}
			pl[0]++
			if e.Verdict == "REJECTED" {
				c.nRej++
				pl[1]++
			}
			if verdicts[i].Status == "REJECTED" {
				c.mRej++
				pl[2]++
			}
			if e.Verdict == "DELAYED" {
				c.nDel++
			}
			if verdicts[i].Status == "DELAYED" {
				c.mDel++
			}
		}
		swapped := map[string]int64{}
		var samples []string
		for k, c := range groups {
			pl := perLoc[k.loc]
			if d := c.mRej - c.nRej; d > 0 {
				pl[3] += d
			} else {
				pl[4] -= d
			}
			if c.mRej != c.nRej && vi == 0 {
				samples = append(samples, fmt.Sprintf("%s %s at %s: nginx rejected %d, model %d", k.loc, k.key, fmtMS(k.ms), c.nRej, c.mRej))
			}
			if d := c.mDel - c.nDel; d != 0 && c.mRej == c.nRej {
				swapped[k.loc] += abs64(d)
			}
		}
		for _, l := range locs {
			pl := perLoc[l]
			if pl == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d |\n", v.name, l, pl[0], pl[1], pl[2], pl[3], pl[4], swapped[l])
		}
		sort.Strings(samples)
		if len(samples) > 10 {
			samples = samples[:10]
		}
		for _, smp := range samples {
			fmt.Fprintf(w, "| %s | (differs: %s) | | | | | | |\n", v.name, smp)
		}
		if m.zones != nil && !m.NoExpire {
			var ex []string
			for _, z := range sortedZones(m) {
				if z.expired > 0 {
					ex = append(ex, fmt.Sprintf("%s:%d", z.name, z.expired))
				}
			}
			if len(ex) > 0 {
				fmt.Fprintf(w, "| %s | (nodes expired: %s) | | | | | | |\n", v.name, strings.Join(ex, " "))
			}
		}
	}
	if len(errEvents) > 0 {
		reportExcess(w, g, entries, modelVerdicts, errEvents)
	}
}

// reportExcess compares nginx's excess for every rejected or delayed
// request (from the error log) with the model's, pairing the requests of
// one key, location and arrival millisecond in excess order (which of
// them nginx rejected is arbitrary), and prints the differences in
// thousandths per zone: a difference of rate/1000 is one millisecond.
func reportExcess(w io.Writer, g *GatewayCfg, entries []Entry, model []Verdict, evs []ErrorLogEvent) {
	bySeq := map[int]int{}
	for i := range entries {
		bySeq[entries[i].Seq] = i
	}
	type gk struct {
		loc, key, status string
		ms               int64
	}
	type ev struct {
		zone   string
		excess int64
	}
	ngx, mod := map[gk][]ev{}, map[gk][]ev{}
	unmatched := 0
	for _, e := range evs {
		i, ok := bySeq[e.Seq]
		if !ok {
			unmatched++
			continue
		}
		en := &entries[i]
		st := "DELAYED"
		if e.Rejected {
			st = "REJECTED"
		}
		k := gk{g.location(en.Path).Prefix, en.Key, st, en.ArrivalMS()}
		ngx[k] = append(ngx[k], ev{e.Zone, e.Excess})
	}
	for i := range entries {
		v := model[i]
		if v.Status != "REJECTED" && v.Status != "DELAYED" {
			continue
		}
		en := &entries[i]
		k := gk{g.location(en.Path).Prefix, en.Key, v.Status, en.ArrivalMS()}
		mod[k] = append(mod[k], ev{v.Zone, v.Excess})
	}
	var same, differ, verdictDiffer int
	hist := map[string]map[int64]int{}
	for k, ns := range ngx {
		ms := mod[k]
		less := func(s []ev) func(a, b int) bool {
			return func(a, b int) bool {
				if s[a].zone != s[b].zone {
					return s[a].zone < s[b].zone
				}
				return s[a].excess < s[b].excess
			}
		}
		sort.Slice(ns, less(ns))
		sort.Slice(ms, less(ms))
		n := min(len(ns), len(ms))
		verdictDiffer += len(ns) - n
		for j := 0; j < n; j++ {
			if ns[j].zone != ms[j].zone {
				verdictDiffer++
				continue
			}
			d := ns[j].excess - ms[j].excess
			if d == 0 {
				same++
				continue
			}
			differ++
			if hist[ns[j].zone] == nil {
				hist[ns[j].zone] = map[int64]int{}
			}
			hist[ns[j].zone][d]++
		}
	}
	fmt.Fprintf(w, "\nerror log: %d limit_req events (rejected or delayed); paired with the model's (arrival time): same zone and excess %d, another excess %d, no counterpart %d (+%d not in the access log)\n",
		len(evs), same, differ, verdictDiffer, unmatched)
	var zones []string
	for z := range hist {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		var ds []int64
		for d := range hist[z] {
			ds = append(ds, d)
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		var parts []string
		for _, d := range ds {
			parts = append(parts, fmt.Sprintf("%+d: %d", d, hist[z][d]))
		}
		fmt.Fprintf(w, "  zone %s (rate %d): nginx excess - model excess, in thousandths: %s\n", z, g.ZoneRate[z], strings.Join(parts, ", "))
	}
}

func sortedZones(m *Model) []*zoneState {
	var zs []*zoneState
	for _, z := range m.zones {
		zs = append(zs, z)
	}
	sort.Slice(zs, func(a, b int) bool { return zs[a].name < zs[b].name })
	return zs
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// KeyRow is a row of keyrate's keys.csv: the key's requests reconciled
// once per request with the real gateway.
type KeyRow struct {
	Key                                                         string
	Requests, Rejected, GatewayRejected, Leaked, FalseThrottles int64
}

// ReadKeys reads DIR/keys.csv.
func ReadKeys(dir string) (map[string]KeyRow, error) {
	recs, col, err := readTable(dir, "keys", "key", "requests", "rejected", "gateway_rejected", "leaked", "false_throttles")
	if err != nil {
		return nil, err
	}
	out := map[string]KeyRow{}
	for _, r := range recs {
		n := func(c string) int64 { v, _ := strconv.ParseInt(r[col[c]], 10, 64); return v }
		out[r[col["key"]]] = KeyRow{Key: r[col["key"]], Requests: n("requests"), Rejected: n("rejected"),
			GatewayRejected: n("gateway_rejected"), Leaked: n("leaked"), FalseThrottles: n("false_throttles")}
	}
	return out, nil
}

// CheckLocation compares, key by key, nginx's verdicts at one location
// with keyrate's run over that location's lines only (dir), whose keys
// table then reconciles the location's requests once each: keyrate's
// rejections must equal nginx's REJECTED, and leaked and false throttles
// stay within tol (the verdicts a 1-ms clock difference can flip, by
// key). It prints a table and returns the keys outside the tolerance.
func CheckLocation(w io.Writer, g *GatewayCfg, entries []Entry, prefix, dir string, tol map[string]int64) (int, error) {
	rows, err := ReadKeys(dir)
	if err != nil {
		return 0, err
	}
	req, rej := map[string]int64{}, map[string]int64{}
	for i := range entries {
		e := &entries[i]
		if loc := g.location(e.Path); loc == nil || loc.Prefix != prefix || e.Key == "" {
			continue
		}
		req[e.Key]++
		if e.Verdict == "REJECTED" || e.Verdict == "REJECTED_DRY_RUN" {
			rej[e.Key]++
		}
	}
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "| key | requests | nginx REJECTED | flippable | keyrate rejected | leaked | false |\n|---|---:|---:|---:|---:|---:|---:|\n")
	failures := 0
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d |\n", k, req[k], rej[k], tol[k], r.Rejected, r.Leaked, r.FalseThrottles)
		if r.Requests != req[k] || r.GatewayRejected != rej[k] || abs64(r.Rejected-rej[k]) > tol[k] || r.Leaked > tol[k] || r.FalseThrottles > tol[k] {
			failures++
		}
	}
	if len(rows) != len(keys) {
		return failures + 1, fmt.Errorf("%s: keyrate has %d keys at %s, nginx %d", dir, len(rows), prefix, len(keys))
	}
	return failures, nil
}
