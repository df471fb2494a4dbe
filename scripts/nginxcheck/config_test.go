package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestTemplateLogFormatIsLogLayout(t *testing.T) {
	m := regexp.MustCompile(`(?s)log_format keyrate ((?:'[^']*'\s*)+);`).FindStringSubmatch(nginxTemplate)
	if m == nil {
		t.Fatal("no log_format keyrate in nginx.conf.tmpl")
	}
	var parts []string
	for _, p := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		parts = append(parts, p[1])
	}
	if got := strings.Join(parts, ""); got != LogLayout {
		t.Fatalf("template log_format\n%q\nLogLayout\n%q", got, LogLayout)
	}
	for _, v := range []string{"$msec", "$request_time", "$time_local", "$time_iso8601", "$status", "$limit_req_status", "$http_x_api_key", "$request"} {
		if !strings.Contains(LogLayout, v) {
			t.Errorf("log_format lacks %s", v)
		}
	}
}

func TestLayoutWithTimes(t *testing.T) {
	got := LayoutWithTimes("msec")
	if strings.Contains(got, "$time_local") || strings.Contains(got, "$time_iso8601 ") || !strings.Contains(got, " $msec ") ||
		!strings.Contains(got, "[$logged_time_local]") || !strings.Contains(got, "$logged_time_iso8601 ") {
		t.Fatalf("LayoutWithTimes(msec) = %q", got)
	}
	if LayoutWithTimes("time_local", "time_iso8601", "msec") != LogLayout {
		t.Fatal("keeping every time must give LogLayout")
	}
}

// The policy file and the template describe the same limits: one
// leaky-bucket limit per zone, same rate, burst and location.
func TestPolicyMatchesTemplate(t *testing.T) {
	var pol struct {
		DefaultPlan string `toml:"default_plan"`
		Plans       map[string]struct {
			Limits []struct {
				Name, Algorithm, Rate string
				Burst                 int64
				Paths                 []string
			}
		}
	}
	if _, err := toml.Decode(policyTOML, &pol); err != nil {
		t.Fatal(err)
	}
	g := mustCfg(t, nginxTemplate)
	limits := pol.Plans[pol.DefaultPlan].Limits
	seen := map[string]bool{}
	for _, l := range limits {
		seen[l.Name] = true
		if l.Algorithm != "leaky-bucket" {
			t.Errorf("%s: algorithm %s", l.Name, l.Algorithm)
		}
		rate, ok := g.ZoneRate[l.Name]
		if !ok {
			t.Errorf("policy limit %s: no zone of that name in the template", l.Name)
			continue
		}
		pg := mustCfg(t, "limit_req_zone $k zone=x:1m rate="+l.Rate+";")
		if pg.ZoneRate["x"] != rate {
			t.Errorf("%s: policy rate %s (%d) vs zone %d", l.Name, l.Rate, pg.ZoneRate["x"], rate)
		}
		if len(l.Paths) != 1 || !strings.HasSuffix(l.Paths[0], "*") {
			t.Errorf("%s: paths %v: want one prefix glob", l.Name, l.Paths)
			continue
		}
		loc := g.location(strings.TrimSuffix(l.Paths[0], "*"))
		found := false
		for _, lim := range loc.Limits {
			if lim.Zone == l.Name {
				found = true
				if lim.Burst != l.Burst*1000 {
					t.Errorf("%s: policy burst %d vs template %d", l.Name, l.Burst, lim.Burst/1000)
				}
			}
		}
		if !found || loc.Prefix+"*" != l.Paths[0] {
			t.Errorf("%s: path %s is not the location of its zone", l.Name, l.Paths[0])
		}
	}
	for z := range g.ZoneRate {
		if !seen[z] {
			t.Errorf("zone %s has no limit in policy.toml", z)
		}
	}
}

func TestRenderConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := RenderConfig(dir, 2, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"worker_processes 2;", "pid " + cfg.Dir + "/nginx.pid;", "listen 127.0.0.1:",
		"server 127.0.0.1:", "limit_req_status 429;", "access_log " + cfg.Dir + "/access.log keyrate;",
		"access_log " + cfg.Dir + "/access.json keyrate_json;",
		"proxy_temp_path       " + cfg.Dir + "/tmp/proxy;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	if strings.Contains(conf, "{{") || cfg.Port == cfg.UpstreamPort || cfg.Port == 0 {
		t.Errorf("ports %d %d or an unrendered action", cfg.Port, cfg.UpstreamPort)
	}
	// The model reads the same configuration the gateway runs.
	g := mustCfg(t, conf)
	if loc := g.location("/multi"); loc == nil || len(loc.Limits) != 2 || loc.Limits[0].Zone != "multi_a" {
		t.Errorf("/multi: %+v", loc)
	}
	if nginx, err := exec.LookPath("nginx"); err == nil {
		out, err := exec.Command(nginx, "-t", "-q", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")).CombinedOutput()
		if err != nil {
			t.Fatalf("nginx -t: %v\n%s", err, out)
		}
	}
}
