package main

import (
	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/report/schema"
)

// newManifest starts the run's manifest from what reading the inputs
// gave.
func newManifest(args []string, res *pipeline.Result) *schema.Manifest {
	m := &schema.Manifest{
		Version:    keyrateVersion(),
		Arguments:  append([]string{"analyze"}, args...),
		BadSamples: res.Samples,
		// Empty lists, not null, when there is nothing to list.
		SkippedPaths: []schema.SkippedPath{},
		SpilledBytes: res.SpilledBytes,
	}
	if m.BadSamples == nil {
		m.BadSamples = []schema.Sample{}
	}
	m.SetInputs(res.Files)
	return m
}
