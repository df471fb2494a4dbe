package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/cmd/internal/job"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

// runner is how analyze reads its inputs and writes its reports: one
// run's reports in a flat --out, or a dataset that nightly runs add up in
// (--partition day).
type runner interface {
	read(ctx context.Context, paths []string) (*pipeline.Result, error)
	// noteSkipped lists in m (and on stderr) the inputs read before.
	noteSkipped(d *diag, m *schema.Manifest)
	write(ctx context.Context, inv *invocation, res *pipeline.Result, m *schema.Manifest, started time.Time) error
	close()
}

func newRunner(c *analysis.Config, inv *invocation) (runner, error) {
	if c.W.Part == report.NoPartition {
		return &flatRunner{c: c}, nil
	}
	return openDataset(c, inv)
}

// flatRunner writes one run's reports.
type flatRunner struct {
	c   *analysis.Config
	res *pipeline.Result
}

func (f *flatRunner) read(ctx context.Context, paths []string) (*pipeline.Result, error) {
	var err error
	f.res, err = pipeline.Run(ctx, paths, f.c.Read)
	return f.res, err
}

func (f *flatRunner) noteSkipped(*diag, *schema.Manifest) {}

func (f *flatRunner) write(ctx context.Context, inv *invocation, res *pipeline.Result, m *schema.Manifest, started time.Time) error {
	return f.c.Write(ctx, inv.env.outputFS, res, m, started, inv.diag.log)
}

func (f *flatRunner) close() {
	if f.res != nil {
		f.res.Close()
	}
}

// datasetRunner adds a run to the dataset in --out.
type datasetRunner struct {
	c   *analysis.Config
	run *job.Run
}

func openDataset(c *analysis.Config, inv *invocation) (*datasetRunner, error) {
	run, err := job.Open(c.JobConfig(inv.env.outputFS, os.Stdin))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return &datasetRunner{c: c, run: run}, nil
}

func (r *datasetRunner) read(ctx context.Context, paths []string) (*pipeline.Result, error) {
	if err := r.run.Read(ctx, paths); err != nil {
		return nil, err
	}
	return r.run.Result(), nil
}

func (r *datasetRunner) noteSkipped(d *diag, m *schema.Manifest) {
	for _, s := range r.run.Skipped() {
		reason := "already in the dataset: the content of " + s.Of
		if s.Kind == "contained" {
			reason = "already in the dataset: the start of " + s.Of
		}
		m.SkippedPaths = append(m.SkippedPaths, schema.SkippedPath{Path: s.Path, Reason: reason})
		d.log.Info("not read", "path", s.Path, "reason", reason)
	}
	for _, g := range r.run.Grown() {
		d.log.Info("read again whole: it has grown since it was read", "path", g.Path, "was", g.Of)
	}
}

func (r *datasetRunner) write(ctx context.Context, inv *invocation, res *pipeline.Result, m *schema.Manifest, started time.Time) error {
	r.run.SetOptions(append(r.c.W.SetOptions(m), report.WithRunStart(started), report.WithShownKeys())...)
	out, err := r.run.Write(ctx, m)
	if err != nil {
		return err
	}
	if len(out.Expired) > 0 {
		inv.diag.log.Info(fmt.Sprintf("retention: the partials of %s (%d dates) are no longer kept; their reports stay",
			dateSpan(out.Expired), len(out.Expired)))
	}
	var expired int64
	for _, f := range res.Files {
		expired += f.Expired
	}
	if expired > 0 {
		inv.diag.log.Warn(fmt.Sprintf("%d lines older than the dataset keeps (--retain-days %d) were not counted", expired, r.c.W.RetainDays))
	}
	return nil
}

func (r *datasetRunner) close() { r.run.Close() }

// dateSpan shows a sorted list of dates as its first and last.
func dateSpan(ds []string) string {
	if len(ds) == 1 {
		return ds[0]
	}
	return strings.Join([]string{ds[0], ds[len(ds)-1]}, " to ")
}
