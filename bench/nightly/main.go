// Command nightly measures what a nightly run into a dataset costs as the
// dataset grows: it writes a month of several servers' logs rotated at
// local midnight (internal/loggen), runs keyrate night by night into one
// dataset, then times night 2 into the dataset of night 1 against the last
// night into the dataset of all the nights before it (both in the steady
// state: each night adds to the dates the one before left open),
// alternating runs on fresh copies, each against decompressing the same
// files alone (the baseline run in the same invocation). Night 1 into an
// empty dataset is shown too. docs/performance.md quotes it.
//
//	go run ./bench/nightly -days 30
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/keyrate/keyrate/internal/loggen"
)

const policy = `
default_plan = "std"

[plans.std]
limits = [
  { name = "per-minute", algorithm = "fixed",        limit = 600,    window = "1m" },
  { name = "rolling",    algorithm = "sliding",      limit = 2000,   window = "10m" },
  { name = "burst",      algorithm = "token-bucket", rate = 10.0,    burst = 100 },
  { name = "daily",      algorithm = "fixed",        limit = 50000,  window = "day" },
  { name = "monthly",    algorithm = "fixed",        limit = 500000, window = "month" },
]
`

func main() {
	days := flag.Int("days", 30, "nights to run")
	servers := flag.Int("servers", 3, "servers, each rotating at its own local midnight")
	perSecond := flag.Float64("per-second", 1, "mean requests per second per server")
	keys := flag.Int("keys", 2000, "ordinary keys")
	repeat := flag.Int("repeat", 3, "timed runs of the first and the last night, alternating")
	work := flag.String("work", "", "scratch directory (default: a new temporary one, removed at exit)")
	flag.Parse()
	if err := run(*days, *servers, *perSecond, *keys, *repeat, *work); err != nil {
		fmt.Fprintln(os.Stderr, "nightly:", err)
		os.Exit(1)
	}
}

func run(days, servers int, perSecond float64, keys, repeat int, work string) error {
	if work == "" {
		dir, err := os.MkdirTemp("", "keyrate-nightly-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	bin := filepath.Join(work, "keyrate")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/keyrate").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	offsets := []int{-300, 0, 60, 330, -480, 540}
	spec := loggen.Spec{
		Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Days: days,
		Offsets: offsets[:min(servers, len(offsets))], Keys: keys, PerSecond: perSecond,
		Heavy: []string{"k_heavy"}, HeavyPerDay: 20000, Bursty: []string{"k_burst"}, BurstSize: 500,
		Gzip: true, Seed: 1,
	}
	fmt.Fprintf(os.Stderr, "# writing %d nights of %d servers\n", days, len(spec.Offsets))
	nights, err := loggen.Write(filepath.Join(work, "logs"), spec)
	if err != nil {
		return err
	}
	pol := filepath.Join(work, "plans.toml")
	if err := os.WriteFile(pol, []byte(policy), 0o644); err != nil {
		return err
	}
	analyze := func(out string, files []loggen.File) (time.Duration, int64, error) {
		args := []string{"analyze", "--quiet", "--partition", "day", "--policy", pol, "--out", out}
		for _, f := range files {
			args = append(args, f.Path)
		}
		return timed(exec.Command(bin, args...))
	}
	// Night 1 alone, and every night but the last, into datasets kept.
	one, base := filepath.Join(work, "night1"), filepath.Join(work, "dataset")
	if _, _, err := analyze(one, nights[0]); err != nil {
		return err
	}
	for _, files := range nights[:len(nights)-1] {
		if _, _, err := analyze(base, files); err != nil {
			return err
		}
	}
	type series struct {
		name         string
		stored       string // the dataset the night goes into ("": empty)
		files        []loggen.File
		times, decos []float64
		rss          int64
	}
	runs := []*series{
		{name: "night 1, empty dataset", files: nights[0]},
		{name: "night 2, 1 night stored", stored: one, files: nights[1]},
		{name: fmt.Sprintf("night %d, %d nights stored", len(nights), len(nights)-1), stored: base, files: nights[len(nights)-1]},
	}
	for i := range repeat {
		for _, s := range runs { // alternating, on fresh copies
			out := filepath.Join(work, fmt.Sprintf("run-%d", i))
			if s.stored != "" {
				if b, err := exec.Command("cp", "-a", s.stored, out).CombinedOutput(); err != nil {
					return fmt.Errorf("cp: %v\n%s", err, b)
				}
			}
			t, rss, err := analyze(out, s.files)
			if err != nil {
				return err
			}
			s.times, s.rss = append(s.times, t.Seconds()), max(s.rss, rss)
			s.decos = append(s.decos, decompress(s.files).Seconds())
			os.RemoveAll(out)
		}
	}
	m := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	fmt.Printf("%-32s %10s %12s %10s %12s\n", "run (medians)", "keyrate s", "decompress s", "ratio", "peak RSS MB")
	for _, s := range runs {
		fmt.Printf("%-32s %10.3f %12.3f %10.2f %12.1f\n", s.name, m(s.times), m(s.decos), m(s.times)/m(s.decos), float64(s.rss)/1024)
	}
	a, b := runs[1], runs[2]
	fmt.Printf("night %d / night 2: time %.2fx (against decompression %.2fx), peak RSS %.2fx\n",
		len(nights), m(b.times)/m(a.times), (m(b.times)/m(b.decos))/(m(a.times)/m(a.decos)), float64(b.rss)/float64(a.rss))
	return nil
}

// timed runs cmd and returns its wall time and peak RSS (KiB).
func timed(cmd *exec.Cmd) (time.Duration, int64, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %v\n%s", cmd.Args, err, stderr.Bytes())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return elapsed, rss, nil
}

// decompress is the baseline: reading the night's files, decompressed,
// and nothing else.
func decompress(files []loggen.File) time.Duration {
	start := time.Now()
	for _, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			continue
		}
		if zr, err := gzip.NewReader(fh); err == nil {
			io.Copy(io.Discard, zr)
		}
		fh.Close()
	}
	return time.Since(start)
}
