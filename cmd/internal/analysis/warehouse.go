package analysis

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/cmd/internal/job"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

// WarehouseOptions are the analyze flags that shape reports for
// warehouses and spreadsheets (docs/schema.md, docs/warehouse.md).
type WarehouseOptions struct {
	partition     string
	keyDisplay    string
	keySecretFile string
	csvRaw        bool
	RetainDays    int

	// Set by Validate.
	Part   report.Partition
	Keys   *report.KeyDisplay
	Digest string
}

// Register defines the flags on fs.
func (w *WarehouseOptions) Register(fs *pflag.FlagSet) {
	fs.StringVar(&w.partition, "partition", "none", "day: Hive-style OUT/TABLE/date=YYYY-MM-DD/part-0.* partitions by UTC date, replacing only the dates this run covers")
	fs.StringVar(&w.keyDisplay, "key-display", "raw", "how keys appear in reports: raw, prefix (first 8 chars + digest) or hmac (HMAC-SHA256 under "+report.KeySecretEnv+" or --key-secret-file)")
	fs.StringVar(&w.keySecretFile, "key-secret-file", "", "file holding the --key-display hmac secret (default: $"+report.KeySecretEnv+")")
	fs.IntVar(&w.RetainDays, "retain-days", job.DefaultRetainDays, "with --partition day: days of partials (and checkpoints) the dataset keeps before its newest date, for late logs and calendar quotas")
	fs.BoolVar(&w.csvRaw, "csv-raw", false, "write CSV cells as they are, without neutralising spreadsheet formulas (=, +, -, @)")
}

// Validate checks the flags and sets Part, Keys and Digest.
func (w *WarehouseOptions) Validate(pol *policy.Policy) error {
	if w.Keys == nil {
		if err := w.validateKeys(); err != nil {
			return err
		}
	}
	if w.RetainDays < 1 {
		return fmt.Errorf("--retain-days %d: want at least 1", w.RetainDays)
	}
	var err error
	w.Digest, err = pol.Digest()
	return err
}

// validateKeys checks --partition and the key display, and sets Part and
// Keys: before the policy is read, whose errors may name keys.
func (w *WarehouseOptions) validateKeys() error {
	var err error
	if w.Part, err = report.ParsePartition(w.partition); err != nil {
		return fmt.Errorf("--partition %w", err)
	}
	var secret []byte
	if report.KeyMode(w.keyDisplay) == report.KeyHMAC {
		if secret, err = report.LoadKeySecret(w.keySecretFile); err != nil {
			return fmt.Errorf("--key-secret-file: %w", err)
		}
	} else if w.keySecretFile != "" {
		return fmt.Errorf("--key-secret-file needs --key-display hmac")
	}
	if w.Keys, err = report.NewKeyDisplay(report.KeyMode(w.keyDisplay), secret); err != nil {
		var short *report.ShortSecretError
		if errors.As(err, &short) {
			return fmt.Errorf("--key-display %w (set %s or --key-secret-file)", err, report.KeySecretEnv)
		}
		return fmt.Errorf("--key-display %w", err)
	}
	return nil
}

// Scrub keeps raw keys out of the manifest and stderr when keys are
// hidden: malformed-line excerpts are log text that may hold a key
// anywhere, so they are withheld (file, line and reason stay).
func (w *WarehouseOptions) Scrub(res *pipeline.Result, m *schema.Manifest) {
	m.SchemaVersion = schema.Version
	m.PolicyDigest = w.Digest
	m.KeyDisplay = string(w.Keys.Mode())
	m.Partition = string(w.Part)
	if m.Partition == "" {
		m.Partition = "none"
	}
	if !w.Keys.Hides() {
		return
	}
	withheld := "(withheld under --key-display " + string(w.Keys.Mode()) + ")"
	for i := range res.Samples {
		res.Samples[i].Excerpt = withheld
	}
	for i := range m.BadSamples {
		m.BadSamples[i].Excerpt = withheld
	}
}

// SetOptions are the report.Set options for this run.
func (w *WarehouseOptions) SetOptions(m *schema.Manifest) []report.Option {
	opts := []report.Option{
		report.WithVersion(m.Version),
		report.WithPolicyDigest(w.Digest),
		report.WithKeyDisplay(w.Keys),
		report.WithCSVRaw(w.csvRaw),
	}
	if w.Part != report.NoPartition && m.TimeRange != nil {
		opts = append(opts, report.WithPartition(w.Part, m.TimeRange.First, m.TimeRange.Last))
	} else if w.Part != report.NoPartition {
		opts = append(opts, report.WithPartition(w.Part, time.Time{}, time.Time{}))
	}
	return opts
}

// RecordDates notes the partitions written in the manifest and warns
// about dates the input covers only in part.
func (w *WarehouseOptions) RecordDates(set *report.Set, m *schema.Manifest, log *slog.Logger) error {
	if w.Part == report.NoPartition {
		return nil
	}
	dates, partial, err := set.Dates()
	if err != nil {
		return err
	}
	m.PartitionDates, m.PartialDates = dates, partial
	if m.PartitionDates == nil {
		m.PartitionDates = []string{}
	}
	if m.PartialDates == nil {
		m.PartialDates = []string{}
	}
	if len(partial) > 0 {
		log.Warn(fmt.Sprintf("the input covers %s only in part; those partitions hold this run's rows only (see partial_dates in manifest.json)",
			strings.Join(partial, ", ")))
	}
	m.UntouchedGaps = append([]schema.DateGap{}, set.Gaps()...)
	for _, g := range m.UntouchedGaps {
		log.Warn(fmt.Sprintf("no rows from %s to %s, inside the input's time range: a line with a wrong time? Those partitions were left as they were (see untouched_gaps in manifest.json)",
			g.From, g.To))
	}
	return nil
}

// SetPartition sets --partition, for commands that work on a dataset
// whatever the flag says (keyrate dataset forget).
func (w *WarehouseOptions) SetPartition(p report.Partition) { w.partition = string(p) }
