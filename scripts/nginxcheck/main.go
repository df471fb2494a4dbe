// Command nginxcheck is the harness that checks keyrate's replay against a
// real nginx (scripts/nginx-check.sh drives it; nginx_test.go is the Go
// test of the same steps):
//
//	nginxcheck config  -dir D [-workers N]        render nginx.conf.tmpl into D (free loopback ports)
//	nginxcheck load    -target 127.0.0.1:P [-upstream 127.0.0.1:U] [-duration 25s] [-seed 1] [-forget]
//	nginxcheck arrival -log access.log -out arrival.jsonl   the log with arrival times ($msec - $request_time)
//	nginxcheck layout  [-times time_local,time_iso8601,msec]  the --log-format keyrate is given
//	nginxcheck policy                              the keyrate policy matching the template
//	nginxcheck compare -log access.log -conf nginx.conf NAME=OUTDIR ...  nginx's verdicts vs keyrate's reports
//	nginxcheck model   -log access.log -conf nginx.conf [-errorlog error.log]  nginx's verdicts vs a model of limit_req
//
// The load generator is deterministic (a fixed seed gives the same
// schedule: keys, patterns, times, upstream delays), bounded (a few
// thousand requests over -duration, at most -max-requests, a deadline
// after the last), and sends only to loopback IP addresses.
//
// It lives under scripts/ rather than cmd/ because it is CI tooling, not a
// tool keyrate ships, and it treats keyrate as a black box (its command
// line and CSV reports), importing none of its packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nginxcheck config|load|arrival|layout|policy|compare|model [flags]")
		os.Exit(2)
	}
	var err error
	code := 0
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "config":
		err = cmdConfig(args)
	case "load":
		err = cmdLoad(args)
	case "arrival":
		err = cmdArrival(args)
	case "layout":
		fs := flag.NewFlagSet("layout", flag.ExitOnError)
		times := fs.String("times", "time_local,time_iso8601,msec", "time variables keyrate may see; the others are renamed into plain fields")
		fs.Parse(args)
		fmt.Println(LayoutWithTimes(strings.Split(*times, ",")...))
	case "policy":
		fmt.Print(policyTOML)
	case "compare":
		code, err = cmdCompare(args)
	case "model":
		err = cmdModel(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
		code = 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nginxcheck:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func cmdConfig(args []string) error {
	fs := flag.NewFlagSet("config", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for nginx.conf, pid, logs and temp paths (required)")
	workers := fs.Int("workers", 1, "worker_processes")
	port := fs.Int("port", 0, "nginx port (0: a free one)")
	up := fs.Int("upstream-port", 0, "slow upstream port (0: a free one)")
	fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("config: -dir is required")
	}
	cfg, err := RenderConfig(*dir, *workers, *port, *up)
	if err != nil {
		return err
	}
	// Shell assignments for the script.
	fmt.Printf("port=%d\nupstream_port=%d\nconf=%s\n", cfg.Port, cfg.UpstreamPort, filepath.Join(cfg.Dir, "nginx.conf"))
	return nil
}

func cmdLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("target", "", "nginx address, a loopback IP and port (required)")
	upstream := fs.String("upstream", "", "serve the slow upstream here during the run (loopback)")
	duration := fs.Duration("duration", 25*time.Second, "schedule length (at most 2m)")
	seed := fs.Uint64("seed", 1, "schedule seed")
	forget := fs.Bool("forget", false, "add the 62-second phase that shows nginx forgetting keys")
	maxReq := fs.Int("max-requests", 8000, "refuse a bigger schedule")
	summary := fs.String("summary", "", "write the run's summary as JSON here")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := RunLoad(ctx, LoadConfig{Target: *target, Upstream: *upstream, Log: os.Stdout,
		Schedule: ScheduleConfig{Seed: *seed, Duration: *duration, Forget: *forget, MaxRequests: *maxReq}})
	if sum != nil && *summary != "" {
		if werr := writeJSON(*summary, sum); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func cmdArrival(args []string) error {
	fs := flag.NewFlagSet("arrival", flag.ExitOnError)
	log := fs.String("log", "", "access log written with the template's log_format")
	out := fs.String("out", "", "JSON lines to write")
	fs.Parse(args)
	entries, err := readAccessLog(*log)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := WriteArrivalJSON(f, entries); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadLogAndConf(log, conf string) ([]Entry, *GatewayCfg, error) {
	entries, err := readAccessLog(log)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, nil, err
	}
	g, err := ParseGatewayCfg(string(b))
	return entries, g, err
}

func cmdCompare(args []string) (int, error) {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	log := fs.String("log", "", "nginx access log")
	conf := fs.String("conf", "", "the rendered nginx.conf")
	perKey := fs.Bool("keys", false, "also print every (limit, key) that differs")
	strict := fs.String("strict", "", "comma-separated runs that must match nginx exactly (exit 1 otherwise)")
	allow := fs.String("allow-differ", "", "comma-separated limits exempt from -strict")
	slack := fs.Int64("slack-ms", 1, "-strict tolerates, per limit and key, the verdicts a clock difference of this many ms could flip (0: none)")
	fs.Parse(args)
	entries, g, err := loadLogAndConf(*log, *conf)
	if err != nil {
		return 1, err
	}
	var runs []Run
	for _, a := range fs.Args() {
		name, dir, ok := strings.Cut(a, "=")
		if !ok {
			return 2, fmt.Errorf("compare: %q: want NAME=OUTDIR", a)
		}
		runs = append(runs, Run{Name: name, Dir: dir})
	}
	opt := CompareOptions{PerKey: *perKey, Strict: set(*strict), AllowDiffer: set(*allow), Ambiguous: AmbiguousCounts(g, entries, *slack)}
	fails, err := Compare(os.Stdout, g, entries, runs, opt)
	if err != nil {
		return 1, err
	}
	if fails > 0 {
		return 1, fmt.Errorf("compare: %d (limit, key, run) rows of the strict runs %s differ from nginx", fails, *strict)
	}
	return 0, nil
}

func cmdModel(args []string) error {
	fs := flag.NewFlagSet("model", flag.ExitOnError)
	log := fs.String("log", "", "nginx access log")
	conf := fs.String("conf", "", "the rendered nginx.conf")
	errLog := fs.String("errorlog", "", "nginx error log at info level (limit_req's excess per verdict)")
	fs.Parse(args)
	entries, g, err := loadLogAndConf(*log, *conf)
	if err != nil {
		return err
	}
	var evs []ErrorLogEvent
	if *errLog != "" {
		if evs, err = ParseErrorLog(*errLog); err != nil {
			return err
		}
	}
	ModelReport(os.Stdout, g, entries, evs)
	return nil
}

func set(csv string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(csv, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}
