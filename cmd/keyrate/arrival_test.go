package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nginxLayout logs what an exact audit needs: $msec, $request_time and
// the limiter's verdict (scripts/nginxcheck logs the same).
const nginxLayout = `$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_x_api_key" $msec $request_time $limit_req_status`

// Two requests of one key under nginx's limit_req 1r/s (burst 0): the
// first arrived at 10.000 and was held 1.1 s by a slow upstream, the
// second arrived at 11.050 and was answered at once. nginx saw them 1,050
// ms apart and served both; in the log the second comes first and the
// first 50 ms after it.
const slowThenFast = `127.0.0.1 [26/Nov/2026:10:15:11 +0000] "GET /v1/x HTTP/1.1" 200 43 "k1" 1795688111.050 0.000 PASSED
127.0.0.1 [26/Nov/2026:10:15:11 +0000] "GET /v1/x HTTP/1.1" 200 43 "k1" 1795688111.100 1.100 PASSED
`

const oneRPS = `default_plan = "p"
[plans.p]
limits = [ { name = "gw", algorithm = "leaky-bucket", rate = "1r/s" } ]
`

// TestArrivalTimeEndToEnd: with $msec and $request_time in the layout,
// keyrate replays the limit at the requests' arrival (no leak where
// nginx was right), records which time it used, and warns only when the
// time is not the arrival.
func TestArrivalTimeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	policy := filepath.Join(dir, "policy.toml")
	os.WriteFile(log, []byte(slowThenFast), 0o644)
	os.WriteFile(policy, []byte(oneRPS), 0o644)
	analyze := func(name string, args ...string) (audit map[string]string, input map[string]any, stderr string) {
		t.Helper()
		out := filepath.Join(dir, name)
		code, _, stderr := runKeyrate(t, append([]string{"analyze", "--key", "header:X-Api-Key", "--policy", policy,
			"--verdict-field", "limit_req_status", "--output", "csv", "--out", out}, args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		rows := readCSV(t, filepath.Join(out, "throttle_audit.csv"))
		if len(rows) != 1 {
			t.Fatalf("%s: audit rows %v", name, rows)
		}
		return rows[0], readManifestMap(t, out)["inputs"].([]any)[0].(map[string]any), stderr
	}
	audit, in, stderr := analyze("arrival", "--log-format", nginxLayout, log)
	if got := row(audit, "requests", "excess", "leaked", "gateway_rejected"); got != "2 0 0 0" {
		t.Errorf("at arrival: requests excess leaked false %q, want 2 0 0 0", got)
	}
	if in["time_source"] != "arrival ($msec - $request_time)" || in["time_precision"] != "ms" || in["time_not_arrival"] != 0.0 {
		t.Errorf("at arrival: manifest input %v", in)
	}
	if strings.Contains(stderr, "not the requests' arrival") {
		t.Errorf("at arrival: warned:\n%s", stderr)
	}

	// As logged, the slow request looks 50 ms after the fast one: a
	// rejection nginx never made ("leaked"). Asked for, so no warning.
	audit, in, stderr = analyze("logged", "--log-format", nginxLayout, "--time", "logged", log)
	if got := row(audit, "requests", "excess", "leaked", "gateway_rejected"); got != "2 1 1 0" {
		t.Errorf("as logged: requests excess leaked false %q, want 2 1 1 0", got)
	}
	if in["time_source"] != "logged ($msec)" || in["time_not_arrival"] != 2.0 {
		t.Errorf("as logged: manifest input %v", in)
	}
	if strings.Contains(stderr, "not the requests' arrival") {
		t.Errorf("--time logged: warned:\n%s", stderr)
	}

	// A layout without $request_time cannot give the arrival: keyrate
	// says so, and what to log.
	noDuration := strings.Replace(nginxLayout, " $request_time", " $rt", 1)
	_, in, stderr = analyze("no-duration", "--log-format", noDuration, log)
	if in["time_source"] != "logged ($msec)" {
		t.Errorf("without $request_time: manifest input %v", in)
	}
	if !strings.Contains(stderr, "keyrate: warning: limits replayed at times that are not the requests' arrival") ||
		!strings.Contains(stderr, `time_source="logged ($msec)" inputs=1 lines=2`) || !strings.Contains(stderr, "add $request_time to the log_format") {
		t.Errorf("without $request_time: stderr\n%s", stderr)
	}
	code, _, stderr := runKeyrate(t, "analyze", "--time", "first", "--limit", "1/s", "--out", filepath.Join(dir, "bad"), log)
	if code != exitUsage || !strings.Contains(stderr, `--time "first": want arrival or logged`) {
		t.Errorf("--time first: exit %d, %s", code, stderr)
	}
}

// Without limits nothing is replayed, so nothing is warned about.
func TestNoTimeWarningWithoutLimits(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runKeyrate(t, "analyze", "--output", "csv", "--out", filepath.Join(dir, "out"), sampleDir)
	if code != 0 || strings.Contains(stderr, "not the requests' arrival") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	var m struct {
		Inputs []struct {
			TimeSource string `json:"time_source"`
		} `json:"inputs"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "out", "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || len(m.Inputs) != 3 || m.Inputs[0].TimeSource != "unknown ([time])" {
		t.Errorf("manifest inputs %s (%v)", b, err)
	}
}

// A combined log's [time] is the arrival under Apache and the logged time
// under nginx: keyrate cannot tell, so it names it in the manifest and
// does not warn every night about every combined log.
func TestNoTimeWarningForAmbiguousCLFTime(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runKeyrate(t, "analyze", "--limit", "10/s", "--output", "csv", "--out", filepath.Join(dir, "out"), sampleDir)
	if code != 0 || strings.Contains(stderr, "not the requests' arrival") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}
