package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDayPartitionsSplitAndUsage runs a monthly quota over a burst across
// midnight with --partition day: every table's rows sit in the date of
// their requests (the month's violation row in the date the quota
// rejected, not under the month's start), throttle_audit is per date and
// adds up, and the usage table shows the quota's period-to-date use.
func TestDayPartitionsSplitAndUsage(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	pol := filepath.Join(dir, "plans.toml")
	os.WriteFile(pol, []byte(`default_plan = "std"
[plans.std]
limits = [
  { name = "monthly", algorithm = "fixed", limit = 50, window = "month" },
  { name = "burst", algorithm = "token-bucket", rate = 1, burst = 100 },
]
`), 0o644)
	var log bytes.Buffer
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	statuses := map[string]int{}
	for i := range 70 { // 40 before midnight, 30 after; every fifth a 404
		ts := midnight.Add(time.Duration(i-40) * time.Second)
		status := 200
		if i%5 == 0 {
			status = 404
		}
		statuses[fmt.Sprintf("%s %d", ts.Format(time.DateOnly), status)]++
		fmt.Fprintf(&log, "10.0.0.1 - - [%s] \"GET /v1/x?api_key=k1 HTTP/1.1\" %d 10 \"-\" \"ua\"\n", ts.Format("02/Jan/2006:15:04:05 -0700"), status)
	}
	in := filepath.Join(dir, "access.log")
	os.WriteFile(in, log.Bytes(), 0o644)
	mustAnalyze(t, "--policy", pol, "--partition", "day", "--output", "csv", "--out", out, in)

	part := func(table, date string) []map[string]string {
		return readCSV(t, filepath.Join(out, table, "date="+date, "part-0.csv"))
	}
	// The quota is used up 10 requests after midnight.
	for date, want := range map[string]string{"2026-11-23": "40 10 0 ", "2026-11-24": "50 0 20 2026-11-24T00:00:10Z"} {
		var got string
		for _, u := range part("usage", date) {
			if u["limit_name"] == "monthly" {
				got = fmt.Sprint(u["used"], " ", u["remaining"], " ")
				if u["period_start"] != "2026-11-01T00:00:00Z" || u["quota"] != "50" {
					t.Errorf("%s usage %v: want the November period of quota 50", date, u)
				}
				if bill := fmt.Sprint(statuses[date+" 200"]); u["billable_requests"] != bill {
					t.Errorf("%s: billable %s, want %s (the 200s)", date, u["billable_requests"], bill)
				}
			}
		}
		for _, a := range part("throttle_audit", date) {
			if a["limit_name"] == "monthly" {
				got += a["excess"] + " "
			}
		}
		for _, v := range part("violations", date) {
			if v["limit_name"] == "monthly" {
				got += v["first_exceeded"]
				if v["window_start"] != "2026-11-01T00:00:00Z" || v["window_end"] != "2026-12-01T00:00:00Z" {
					t.Errorf("%s violation %v: want the month's bounds", date, v)
				}
			}
		}
		if got != want {
			t.Errorf("%s: used, remaining, excess, first exceeded %q, want %q", date, got, want)
		}
	}
	keys := part("keys", "2026-11-24")
	if len(keys) != 1 || keys[0]["requests"] != "30" || keys[0]["violations"] != "1" {
		t.Errorf("keys 2026-11-24: %v, want 30 requests and the month's violation", keys)
	}
}
