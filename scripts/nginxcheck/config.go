package main

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed nginx.conf.tmpl
var nginxTemplate string

//go:embed policy.toml
var policyTOML string

// LogLayout is the template's log_format, as one string: what keyrate is
// given with --log-format (the test checks the template still says this).
const LogLayout = `$remote_addr [$time_local] "$request" $status $body_bytes_sent ` +
	`"$http_x_api_key" $msec $request_time $time_iso8601 ` +
	`$limit_req_status pid=$pid conn=$connection`

// LayoutWithTimes returns LogLayout declared so that keyrate sees only the
// given time variables: the others are renamed into plain fields
// ($time_local -> $logged_time_local), so that the same log can be read
// with whole seconds ("time_local"), with $msec alone ("msec"), etc.
func LayoutWithTimes(keep ...string) string {
	l := LogLayout
	for _, v := range []string{"time_local", "time_iso8601", "msec"} {
		found := false
		for _, k := range keep {
			found = found || k == v
		}
		if !found {
			l = strings.Replace(l, "$"+v+" ", "$logged_"+v+" ", 1)
			l = strings.Replace(l, "$"+v+"]", "$logged_"+v+"]", 1)
		}
	}
	return l
}

// Config is what the template needs.
type Config struct {
	Dir          string
	Port         int
	UpstreamPort int
	Workers      int
	Root         bool
}

// RenderConfig writes dir/nginx.conf and creates dir/tmp, picking free
// loopback ports where port or upstreamPort is 0.
func RenderConfig(dir string, workers, port, upstreamPort int) (*Config, error) {
	if workers < 1 || workers > 8 {
		return nil, fmt.Errorf("workers %d: want 1 to 8", workers)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	if port == 0 || upstreamPort == 0 {
		p1, p2, err := freePorts()
		if err != nil {
			return nil, err
		}
		if port == 0 {
			port = p1
		}
		if upstreamPort == 0 {
			upstreamPort = p2
		}
	}
	cfg := &Config{Dir: dir, Port: port, UpstreamPort: upstreamPort, Workers: workers, Root: os.Geteuid() == 0}
	t, err := template.New("nginx.conf").Option("missingkey=error").Parse(nginxTemplate)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if err := t.Execute(&b, cfg); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return cfg, nil
}

// freePorts asks the kernel for two free loopback ports (held together so
// that they differ). Another process could take one before nginx binds
// it; nginx then fails to start with "Address already in use".
func freePorts() (int, int, error) {
	var ports [2]int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}
