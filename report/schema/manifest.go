package schema

import "time"

// Manifest is manifest.json: what a run read and wrote. Its field names
// are a contract with the tools that check nightly runs.
type Manifest struct {
	Version   string       `json:"version"`
	Arguments []string     `json:"arguments"`
	Inputs    []InputStats `json:"inputs"`
	// SkippedPaths are what the arguments reached but no input read: a
	// file named twice, or a directory entry that is not a file.
	SkippedPaths []SkippedPath `json:"skipped_paths"`
	Totals       Totals        `json:"totals"`
	// TimeRange spans every parsed line's time (UTC); absent when no
	// line parsed.
	TimeRange *TimeRange       `json:"time_range,omitempty"`
	Outputs   map[string]int64 `json:"outputs"` // rows per table
	// Policy is the --policy file, if any; UnplannedKeys counts keys
	// that had no plan under it.
	Policy        string   `json:"policy,omitempty"`
	UnplannedKeys int64    `json:"unplanned_keys"`
	BadSamples    []Sample `json:"bad_line_samples"`
	// WallSeconds and PeakRSSBytes are taken once the reports are
	// encoded, just before the manifest is: the run's wall time, and
	// its peak resident memory (getrusage; 0 where there is none).
	WallSeconds  float64 `json:"wall_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	// ReadSeconds is the part of WallSeconds until every input was read
	// and aggregated; the rest is evaluating and writing the reports.
	ReadSeconds float64 `json:"read_seconds"`
	// SpilledBytes is the compressed state written to --tmp-dir.
	SpilledBytes int64 `json:"spilled_bytes"`

	// The reports' shape (docs/schema.md, docs/warehouse.md).
	SchemaVersion string `json:"schema_version"`
	PolicyDigest  string `json:"policy_digest"`
	KeyDisplay    string `json:"key_display"`
	Partition     string `json:"partition"`
	// PartitionDates lists the dates whose partitions this run replaced
	// (null without --partition).
	PartitionDates []string `json:"partition_dates"`
	// PartialDates lists the dates among them that the input covers only
	// in part.
	PartialDates []string `json:"partial_dates"`
	// UntouchedGaps lists the long runs of dates without rows inside the
	// input's range whose partitions this run left as they were (null
	// without --partition).
	UntouchedGaps []DateGap `json:"untouched_gaps"`
	// Dataset says what the run changed in the dataset in --out
	// (--partition day; absent otherwise).
	Dataset *DatasetRun `json:"dataset,omitempty"`
}

// DatasetRun is what a run changed in its dataset (docs/warehouse.md).
type DatasetRun struct {
	// Touched are the dates whose partial aggregate the run changed;
	// Evaluated the dates it evaluated again (from the first touched
	// one, or every date after a policy change), whose partitions hold
	// its rows; Expired the dates whose partials retention dropped.
	Touched   []string `json:"touched_dates"`
	Evaluated []string `json:"evaluated_dates"`
	Expired   []string `json:"expired_dates"`
	// Skipped are the inputs not read because the dataset holds them
	// already (reason "duplicate" or "contained"); Grown those read again
	// whole because they grew since they were read.
	Skipped []SkippedPath `json:"skipped_inputs"`
	Grown   []string      `json:"grown_inputs"`
	// Forgotten are the IDs of the inputs 'keyrate dataset forget' took
	// back.
	Forgotten []string `json:"forgotten_inputs"`
	// Dates and Inputs count the dates with partials and the inputs in
	// the ledger after the run.
	Dates  int `json:"dates"`
	Inputs int `json:"inputs"`
}

// InputStats describes one input after reading.
type InputStats struct {
	Path        string `json:"path"`
	Compression string `json:"compression"`
	Bytes       int64  `json:"bytes"` // as stored (compressed) bytes read
	Lines       int64  `json:"lines"`
	Parsed      int64  `json:"parsed"`
	Malformed   int64  `json:"malformed"`
	Keyless     int64  `json:"keyless"`
	// Corrupt is set when --skip-corrupt stopped reading this file at an
	// error; Bytes and Lines then count what was read before it.
	Corrupt      bool   `json:"corrupt"`
	CorruptError string `json:"corrupt_error,omitempty"`
	// Format is the format the file was read as (detected with --format
	// auto); TimePrecision is "ms" when its times carry fractions of a
	// second, "s" when not ("" when no line parsed).
	Format        string `json:"format"`
	TimePrecision string `json:"time_precision"`
	// TimeSource says which of its lines' times the input was read at,
	// and how it was derived: "arrival ($msec - $request_time)", "logged
	// ($time_local)", "unknown ([time])" (see docs/formats.md); the
	// distinct ones, sorted and joined by "; ", when its lines differ
	// ("" when no line parsed). TimeNotArrival counts the parsed lines
	// whose time is not known to be the request's arrival, and
	// TimeAdvice says what to log so that it would be. TimeLogged
	// counts those known to be the time the line was written (after the
	// response), not the arrival: what keyrate warns about.
	TimeSource     string `json:"time_source"`
	TimeNotArrival int64  `json:"time_not_arrival"`
	TimeAdvice     string `json:"-"`
	TimeLogged     int64  `json:"-"`
	Skipped        int64  `json:"skipped"`      // header/notice lines holding no request
	InvalidKey     int64  `json:"invalid_key"`  // values rejected by --key-pattern
	InvalidUTF8    int64  `json:"invalid_utf8"` // keys with invalid UTF-8 (escaped as \xNN in reports)
	NULBytes       int64  `json:"nul_lines"`    // lines with leading NUL padding, stripped
	// MinTime and MaxTime bound the parsed lines' times (epoch ms);
	// meaningful only when Parsed > 0. The manifest has them as its
	// TimeRange, over all inputs.
	MinTime int64 `json:"-"`
	MaxTime int64 `json:"-"`
	// VerdictMissing counts keyed lines without the --verdict-field
	// value; such lines count as not rejected.
	VerdictMissing int64 `json:"verdict_missing,omitempty"`
	// KeyHints counts, in a sample of the lines without a key (or with
	// an invalid one), the key sources (query:NAME, header:NAME, ...)
	// whose values look like keys; KeyHintLines is the sample's size.
	// Names only: what a run warns with when most lines have no key.
	KeyHints     map[string]int64 `json:"-"`
	KeyHintLines int64            `json:"-"`

	// The input's content identity, by which a dataset's ledger knows it
	// again under another name or compression: Length is the number of
	// decompressed bytes read, as they are cut into lines (after a byte
	// order mark and the NUL run a stream may start with are dropped),
	// Hash the hex xxh3-128 of them, Head that of the first
	// min(Length, 64 KiB). For a Parquet input, of the file's bytes.
	Length int64  `json:"length"`
	Hash   string `json:"hash,omitempty"`
	Head   string `json:"head,omitempty"`
	// Dates are the UTC dates of the parsed lines (expired ones
	// included), ascending, each with its count of lines.
	Dates []DateCount `json:"dates,omitempty"`
	// Expired counts the parsed lines older than a dataset's retention
	// horizon: counted here, not aggregated (not counted as keyless or
	// invalid either).
	Expired int64 `json:"expired,omitempty"`
}

// DateCount is a UTC date ("2026-11-23") and a number of lines.
type DateCount struct {
	Date  string `json:"date"`
	Lines int64  `json:"lines"`
}

// Sample is one malformed line kept for the manifest and stderr.
type Sample struct {
	File    string `json:"file"`
	Line    int64  `json:"line"`
	Reason  string `json:"reason"`
	Excerpt string `json:"excerpt"`
}

// SkippedPath is a path the arguments reached but no input read, and why.
type SkippedPath struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Totals sums the inputs' statistics.
type Totals struct {
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

// TimeRange spans the parsed lines' times.
type TimeRange struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// DateGap is a run of dates, From to To inclusive, that a run left
// untouched although they lie within its input's time range.
type DateGap struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// SetInputs records the inputs a run read, with their sums (Totals, but
// Keys, which the evaluation counts) and the time range of their parsed
// lines.
func (m *Manifest) SetInputs(inputs []InputStats) {
	m.Inputs = inputs
	m.Totals = Totals{Keys: m.Totals.Keys}
	m.TimeRange = nil
	var first, last int64
	for _, f := range inputs {
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
		m.TimeRange = &TimeRange{First: time.UnixMilli(first).UTC(), Last: time.UnixMilli(last).UTC()}
	}
}
