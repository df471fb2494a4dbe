package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/cmd/internal/job"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report"
)

const datasetUsage = `Usage:
  keyrate dataset ls DIR
  keyrate dataset forget [analyze flags] DIR INPUT...

  ls DIR        list what the dataset in DIR (an --out written with
                --partition day) holds: the inputs read into it, the dates
                it keeps partials for, the settings runs must agree with
  forget        take back inputs read by mistake (INPUT: a path, or an ID
                prefix as ls shows it) and evaluate again the dates they
                touched; the files must still hold what was read. Give the
                analyze flags of the nightly runs (--policy or --limit,
                --key-display...): the dataset refuses others

See docs/warehouse.md.
`

func runDataset(ctx context.Context, inv *invocation, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(inv.stdout, datasetUsage)
		if len(args) == 0 {
			return &exitError{code: exitUsage, err: errors.New("dataset: want 'ls DIR' or 'forget [flags] DIR INPUT...'")}
		}
		return nil
	}
	switch args[0] {
	case "ls":
		if len(args) != 2 {
			return &exitError{code: exitUsage, err: errors.New("dataset ls: want one DIR")}
		}
		return job.List(inv.stdout, args[1])
	case "forget":
		return runForget(ctx, inv, args[1:])
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("dataset %s: want ls or forget", args[0])}
}

// runForget is 'keyrate dataset forget': a run into the dataset that
// reads nothing new and takes inputs back.
func runForget(ctx context.Context, inv *invocation, args []string) error {
	started := time.Now()
	var o analyzeOptions
	fs := analyzeFlags(&o, inv.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(inv.stdout, datasetUsage)
			return nil
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("dataset forget: %w", flagValueError(err))}
	}
	if err := inv.diag.configure(o.unattended.stderrFormat, o.unattended.quiet); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if fs.NArg() < 2 {
		return &exitError{code: exitUsage, err: errors.New("dataset forget: want DIR and at least one INPUT")}
	}
	o.Out = fs.Arg(0)
	o.Warehouse.SetPartition(report.PartitionDay)
	c, err := o.Validate(fs.Args()[1:])
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	lock, err := lockOutput(o.Out)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := recoverOutput(inv.diag, inv.env.outputFS, o.Out); err != nil {
		return err
	}
	removeStaleSpills(inv.diag, o.TmpDir)
	r, err := openDataset(c, inv)
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.run.Forget(ctx, fs.Args()[1:]); err != nil {
		var sel *job.SelectError
		if errors.As(err, &sel) {
			return &exitError{code: exitUsage, err: err}
		}
		return inputAdvice(err)
	}
	res := r.run.Result()
	m := analysis.NewManifest(keyrateVersion(), nil, res, started)
	m.Arguments = append([]string{"dataset", "forget"}, args...)
	m.Policy = o.Policy
	o.Warehouse.Scrub(res, m)
	if err := r.write(ctx, inv, res, m, started); err != nil {
		return fmt.Errorf("writing reports to %s: %w", input.QuotePath(o.Out), err)
	}
	inv.diag.log.Info("forgotten", "inputs", len(m.Dataset.Forgotten), "dates", len(m.Dataset.Touched), "out", o.Out)
	return nil
}
