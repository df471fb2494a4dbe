// Package dataset is the layout of a --partition day output directory
// kept across runs (docs/warehouse.md, "The dataset"): its metadata
// (_keyrate/dataset.json), the ledger of the inputs read into it
// (_keyrate/ledger.json), the stored partial aggregate
// (partials/date=D/part-K.parquet), the evaluators' checkpoints
// (_keyrate/state/date=D.krs) and retention.
//
// It reads the directory and says what to write; it writes nothing
// itself. A run stages its changes through a report.Set (Save,
// Set.WriteFile, Set.Remove), so that the metadata changes in the same
// journaled commit as the partitions it describes.
package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyrate/keyrate/report"
)

// Format is the version of the dataset's layout and metadata encoding.
// Open refuses a dataset of a newer format rather than guess at it.
const Format = 1

// Paths in the dataset, relative to its directory and slash-separated,
// as report.Set takes them.
const (
	MetaFile    = report.MetaDir + "/dataset.json"
	LedgerFile  = report.MetaDir + "/ledger.json"
	StateDir    = report.MetaDir + "/state"
	PartialsDir = "partials"
)

// DateLayout is how dates are written in paths and metadata: UTC days.
const DateLayout = time.DateOnly

// Meta is dataset.json: what the dataset was built with. A run whose
// Inputs or KeyDisplay differ is refused (Check); a changed PolicyDigest
// re-evaluates the retained dates; RetainDays is the retention in force.
type Meta struct {
	Format int `json:"format"`
	// Inputs are the settings that decide how a line is read (format,
	// time zone, key source...), as a JSON object whose fields the
	// application fills: each field is compared on its own, so that a
	// refusal names the setting.
	Inputs json.RawMessage `json:"inputs,omitempty"`
	// KeyDisplay is report.KeyDisplay.Fingerprint of the display the
	// partials' keys went through.
	KeyDisplay   string `json:"key_display"`
	PolicyDigest string `json:"policy_digest,omitempty"`
	// RetainDays is how many days of partials and checkpoints are kept
	// before the newest date (0: all).
	RetainDays int `json:"retain_days"`
}

// MismatchError refuses a run whose settings differ from the dataset's:
// its partials would not add up with the stored ones.
type MismatchError struct {
	Setting      string // "key display", or a field of Inputs
	Dataset, Run string // the two values, as JSON (never a secret: fingerprints)
	Dir          string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: the dataset was built with %s %s, this run has %s; use the same setting or another --out",
		e.Dir, e.Setting, e.Dataset, e.Run)
}

// Check compares a run's settings with the dataset's: the key display
// and every field of Inputs must be equal (JSON values compared as
// compacted text; a field only one side has counts as a difference).
func (d *Dataset) Check(run Meta) error {
	if d.Meta == nil {
		return nil
	}
	have := d.Meta
	if have.KeyDisplay != run.KeyDisplay {
		return &MismatchError{Setting: "key display", Dataset: have.KeyDisplay, Run: run.KeyDisplay, Dir: d.dir}
	}
	a, err := fields(have.Inputs)
	if err != nil {
		return fmt.Errorf("%s: inputs: %w", d.path(MetaFile), err)
	}
	b, err := fields(run.Inputs)
	if err != nil {
		return fmt.Errorf("run inputs: %w", err)
	}
	names := make([]string, 0, len(a)+len(b))
	for k := range a {
		names = append(names, k)
	}
	for k := range b {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range slices.Compact(names) {
		if a[k] != b[k] {
			return &MismatchError{Setting: k, Dataset: orNone(a[k]), Run: orNone(b[k]), Dir: d.dir}
		}
	}
	return nil
}

// fields decodes a JSON object into its fields, each compacted.
func fields(raw json.RawMessage) (map[string]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		out[k] = b.String()
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Dataset is an output directory opened as a dataset.
type Dataset struct {
	dir string
	fs  report.FS
	// Meta is the stored dataset.json; nil for a new dataset.
	Meta   *Meta
	Ledger *Ledger
}

// OldLayoutError refuses a directory holding day partitions that no
// dataset describes: a keyrate before datasets wrote them, and a run
// would silently mix their rows with the dataset's.
type OldLayoutError struct {
	Dir        string
	Partitions []string // a few of them, relative to Dir
}

func (e *OldLayoutError) Error() string {
	return fmt.Sprintf("%s holds day partitions (%s) but no %s: an earlier keyrate wrote them, and a run would mix them with a dataset's. "+
		"Move them away (or use another --out) and run again over the logs to rebuild them",
		e.Dir, strings.Join(e.Partitions, ", "), MetaFile)
}

// Open opens dir, after the caller locked it and ran report.Recover:
// an existing dataset (Meta set), or a new one when dir holds no
// partitions (or does not exist). A directory with partitions but no
// dataset.json is an *OldLayoutError; a dataset of a newer Format, or
// damaged metadata, an error naming the file.
func Open(dir string, fsys report.FS) (*Dataset, error) {
	d := &Dataset{dir: dir, fs: fsys, Ledger: &Ledger{Format: Format}}
	b, err := d.readFile(MetaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if parts, err := d.partitions(3); err != nil {
			return nil, err
		} else if len(parts) > 0 {
			return nil, &OldLayoutError{Dir: dir, Partitions: parts}
		}
		return d, nil
	case err != nil:
		return nil, err
	}
	var m Meta
	if err := unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path(MetaFile), err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %d, this keyrate reads format %d", d.path(MetaFile), m.Format, Format)
	}
	d.Meta = &m
	if b, err = d.readFile(LedgerFile); err != nil {
		return nil, err // written with dataset.json, in the same commit
	}
	if err := unmarshal(b, d.Ledger); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path(LedgerFile), err)
	}
	if d.Ledger.Format != Format {
		return nil, fmt.Errorf("%s: format %d, this keyrate reads format %d", d.path(LedgerFile), d.Ledger.Format, Format)
	}
	if err := d.Ledger.index(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path(LedgerFile), err)
	}
	return d, nil
}

// unmarshal decodes one JSON value, refusing unknown fields: a file of
// another keyrate is refused rather than half read.
func unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// partitions returns up to n partition directories (TABLE/date=D) in
// the directory, in name order; hidden names and the metadata directory
// are not tables.
func (d *Dataset) partitions(n int) ([]string, error) {
	tables, err := d.fs.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var found []string
	for _, t := range tables {
		if !t.IsDir() || strings.HasPrefix(t.Name(), ".") || t.Name() == report.MetaDir {
			continue
		}
		ents, err := d.fs.ReadDir(filepath.Join(d.dir, t.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), "date=") {
				found = append(found, t.Name()+"/"+e.Name())
				if len(found) == n {
					return found, nil
				}
			}
		}
	}
	return found, nil
}

func (d *Dataset) path(rel string) string { return filepath.Join(d.dir, filepath.FromSlash(rel)) }

// maxMetaBytes bounds what Open reads of a metadata file: a ledger of
// years of nightly inputs is a few tens of MB.
const maxMetaBytes = 1 << 30

func (d *Dataset) readFile(rel string) ([]byte, error) {
	f, err := d.fs.Open(d.path(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBytes+1))
	if err == nil && len(b) > maxMetaBytes {
		err = errors.New("larger than 1 GiB")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.path(rel), err)
	}
	return b, nil
}

// Stager is what Save needs of a report.Set.
type Stager interface {
	WriteFile(rel string, data []byte) error
}

// Save stages m as dataset.json and the ledger as ledger.json in set,
// to be installed by its commit. d.Meta becomes m.
func (d *Dataset) Save(set Stager, m Meta) error {
	m.Format = Format
	mb, err := encode(&m)
	if err != nil {
		return err
	}
	d.Ledger.Format = Format
	lb, err := encode(d.Ledger)
	if err != nil {
		return err
	}
	if err := set.WriteFile(MetaFile, mb); err != nil {
		return err
	}
	if err := set.WriteFile(LedgerFile, lb); err != nil {
		return err
	}
	d.Meta = &m
	return nil
}

func encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// Dates returns the dates that have partials (partials/date=D/), sorted.
// A name there that is not a date is an error naming it.
func (d *Dataset) Dates() ([]string, error) {
	ents, err := d.fs.ReadDir(d.path(PartialsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var dates []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		date, ok := strings.CutPrefix(e.Name(), "date=")
		if _, err := time.Parse(DateLayout, date); !ok || err != nil || !e.IsDir() {
			return nil, fmt.Errorf("%s: not a partition of the partial aggregate (want a directory date=YYYY-MM-DD)", d.path(PartialsDir+"/"+e.Name()))
		}
		dates = append(dates, date)
	}
	slices.Sort(dates) // ReadDir sorts by name already; the format makes that date order
	return dates, nil
}

// PartialDir is the partition of date's partial aggregate.
func PartialDir(date string) string { return PartialsDir + "/date=" + date }

// PartialFile is the partial aggregate of date for the request class of
// rank k (docs/partials.md).
func PartialFile(date string, k int) string {
	return PartialDir(date) + "/part-" + strconv.Itoa(k) + ".parquet"
}

// CheckpointFile holds the evaluators' states at the start of date.
func CheckpointFile(date string) string { return StateDir + "/date=" + date + ".krs" }

// PartialFiles returns date's partial files, by class rank.
func (d *Dataset) PartialFiles(date string) ([]string, error) {
	ents, err := d.fs.ReadDir(d.path(PartialDir(date)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	type ranked struct {
		k   int
		rel string
	}
	var files []ranked
	for _, e := range ents {
		num, ok := strings.CutPrefix(e.Name(), "part-")
		num, ok2 := strings.CutSuffix(num, ".parquet")
		k, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || k < 0 || e.IsDir() {
			continue // not keyrate's; a reader globbing *.parquet may still see it
		}
		files = append(files, ranked{k, path.Join(PartialDir(date), e.Name())})
	}
	slices.SortFunc(files, func(a, b ranked) int { return a.k - b.k })
	rels := make([]string, len(files))
	for i, f := range files {
		rels[i] = f.rel
	}
	return rels, nil
}

// Horizon is the first date retained when newest is the newest date and
// days are kept before it: partials of earlier dates expire, and lines
// before it are not aggregated. days <= 0 keeps everything (zero Time).
func Horizon(newest string, days int) (time.Time, error) {
	t, err := time.Parse(DateLayout, newest)
	if err != nil || days <= 0 {
		return time.Time{}, err
	}
	return t.AddDate(0, 0, -days), nil
}

// Expire returns the stored dates (Dates) before Horizon(newest, days):
// the run removes their partials and checkpoints (Set.Remove of
// PartialDir and CheckpointFile) in its commit. Table partitions are
// kept.
func (d *Dataset) Expire(newest string, days int) ([]string, error) {
	h, err := Horizon(newest, days)
	if err != nil || h.IsZero() {
		return nil, err
	}
	dates, err := d.Dates()
	if err != nil {
		return nil, err
	}
	cut := h.Format(DateLayout)
	n, _ := slices.BinarySearch(dates, cut)
	return dates[:n], nil
}
