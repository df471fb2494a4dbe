package main

import (
	"time"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/ingest"
	"github.com/keyrate/keyrate/parse"
)

// manifest is manifest.json: what a run read and wrote. Its field names
// are a contract with the tools that check nightly runs.
type manifest struct {
	Version   string             `json:"version"`
	Arguments []string           `json:"arguments"`
	Inputs    []ingest.FileStats `json:"inputs"`
	// SkippedPaths are what the arguments reached but no input read: a
	// file named twice, or a directory entry that is not a file.
	SkippedPaths []parse.Skipped `json:"skipped_paths"`
	Totals       totals          `json:"totals"`
	// TimeRange spans every parsed line's time (UTC); absent when no
	// line parsed.
	TimeRange *timeRange       `json:"time_range,omitempty"`
	Outputs   map[string]int64 `json:"outputs"` // rows per table
	// Policy is the --policy file, if any; UnplannedKeys counts keys
	// that had no plan under it.
	Policy        string          `json:"policy,omitempty"`
	UnplannedKeys int64           `json:"unplanned_keys"`
	BadSamples    []ingest.Sample `json:"bad_line_samples"`
	WallSeconds   float64         `json:"wall_seconds"`
	// PeakRSSBytes is the process's peak resident memory (getrusage; 0
	// where there is none);
	// SpilledBytes the compressed state written to --tmp-dir.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	SpilledBytes int64 `json:"spilled_bytes"`
	warehouseManifest
	started time.Time // the run's start, for WallSeconds
}

// RecordLateFigures implements report.LateFigures: the wall time and
// peak RSS are taken once the reports are encoded, Parquet's final
// compression included, just before the manifest is written.
func (m *manifest) RecordLateFigures() {
	m.WallSeconds = time.Since(m.started).Seconds()
	m.PeakRSSBytes = peakRSSBytes()
}

type totals struct {
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	Lines     int64 `json:"lines"`
	Parsed    int64 `json:"parsed"`
	Malformed int64 `json:"malformed"`
	Keyless   int64 `json:"keyless"`
	// Skipped, InvalidKey and InvalidUTF8 sum the inputs' counters of
	// the same names.
	Skipped     int64 `json:"skipped"`
	InvalidKey  int64 `json:"invalid_key"`
	InvalidUTF8 int64 `json:"invalid_utf8"`
	Keys        int   `json:"keys"`
	// CorruptFiles counts inputs --skip-corrupt stopped reading early.
	CorruptFiles int `json:"corrupt_files"`
}

type timeRange struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func newManifest(args []string, o *analyzeOptions, res *ingest.Result) *manifest {
	m := &manifest{
		Version:    keyrateVersion(),
		Arguments:  append([]string{"analyze"}, args...),
		Inputs:     res.Files,
		BadSamples: res.Samples,
		// An empty list, not null, when nothing was left out.
		SkippedPaths: []parse.Skipped{},
	}
	if m.BadSamples == nil {
		m.BadSamples = []ingest.Sample{}
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
		m.TimeRange = &timeRange{First: aggregate.Millis(first), Last: aggregate.Millis(last)}
	}
	m.SpilledBytes = res.SpilledBytes
	return m
}
