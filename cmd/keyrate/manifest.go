package main

import (
	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/report/schema"
)

// newManifest starts the run's manifest (report/schema.Manifest) from
// what reading the inputs gave.
func newManifest(args []string, o *analyzeOptions, res *pipeline.Result) *schema.Manifest {
	m := &schema.Manifest{
		Version:    keyrateVersion(),
		Arguments:  append([]string{"analyze"}, args...),
		Inputs:     res.Files,
		BadSamples: res.Samples,
		// An empty list, not null, when nothing was left out.
		SkippedPaths: []schema.SkippedPath{},
	}
	if m.BadSamples == nil {
		m.BadSamples = []schema.Sample{}
	}
	var first, last int64
	for _, f := range res.Files {
		m.Totals.Files++
		m.Totals.Bytes += f.Bytes
		m.Totals.Lines += f.Lines
		m.Totals.Parsed += f.Parsed
		m.Totals.Malformed += f.Malformed
		m.Totals.Keyless += f.Keyless
		m.Totals.Skipped += f.Skipped
		m.Totals.InvalidKey += f.InvalidKey
		m.Totals.InvalidUTF8 += f.InvalidUTF8
		if f.Corrupt {
			m.Totals.CorruptFiles++
		}
		if f.Parsed == 0 {
			continue
		}
		if m.TimeRange == nil || f.MinTime < first {
			first = f.MinTime
		}
		if m.TimeRange == nil || f.MaxTime > last {
			last = f.MaxTime
		}
		m.TimeRange = &schema.TimeRange{First: aggregate.Millis(first), Last: aggregate.Millis(last)}
	}
	m.SpilledBytes = res.SpilledBytes
	return m
}
