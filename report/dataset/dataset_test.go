package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

func mkfile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string) *Dataset {
	t.Helper()
	d, err := Open(dir, report.OSFS{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// commit saves d with m through a report.Set, with the extra changes of
// fn, in one commit.
func commit(t *testing.T, dir string, d *Dataset, m Meta, fn func(*report.Set) error) {
	t.Helper()
	set, err := report.NewSet(dir, []report.Format{report.Parquet})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Save(set, m); err != nil {
		set.Abort()
		t.Fatal(err)
	}
	if fn != nil {
		if err := fn(set); err != nil {
			set.Abort()
			t.Fatal(err)
		}
	}
	if err := set.Commit(context.Background(), &schema.Manifest{}); err != nil {
		t.Fatal(err)
	}
}

var meta = Meta{
	Inputs:       json.RawMessage(`{"format": "combined", "time_zone": "UTC"}`),
	KeyDisplay:   "hmac:0123456789abcdef",
	PolicyDigest: "sha256:abc",
	RetainDays:   40,
}

var entry = Entry{
	ID: "aa11", Path: "/logs/a.log.gz", Compression: "gzip", Bytes: 100, Length: 1000, Head: "h1",
	Lines: 10, Parsed: 9, Malformed: 1, First: time.Date(2026, 11, 23, 6, 25, 0, 0, time.UTC),
	Last: time.Date(2026, 11, 24, 6, 24, 0, 0, time.UTC), Dates: []DateCount{{"2026-11-23", 5}, {"2026-11-24", 4}},
	ReadAt: time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC),
}

// A new directory, an absent one and one holding only flat reports are
// new datasets; a saved dataset reads back as saved.
func TestOpenSaveRoundTrip(t *testing.T) {
	base := t.TempDir()
	if d := open(t, filepath.Join(base, "absent")); d.Meta != nil || len(d.Ledger.Entries) != 0 {
		t.Errorf("absent directory: %+v", d)
	}
	dir := filepath.Join(base, "out")
	mkfile(t, dir, "windows.csv", "key\n")
	mkfile(t, dir, "manifest.json", "{}")
	d := open(t, dir)
	if d.Meta != nil {
		t.Fatalf("flat reports opened as a dataset: %+v", d.Meta)
	}
	if err := d.Ledger.Add(entry); err != nil {
		t.Fatal(err)
	}
	commit(t, dir, d, meta, func(s *report.Set) error {
		return s.WriteFile(PartialFile("2026-11-23", 0), []byte("partials"))
	})
	got := open(t, dir)
	if got.Meta == nil || got.Meta.Format != Format || got.Meta.KeyDisplay != meta.KeyDisplay ||
		got.Meta.RetainDays != 40 || got.Meta.PolicyDigest != meta.PolicyDigest {
		t.Errorf("Meta = %+v", got.Meta)
	}
	if err := got.Check(meta); err != nil {
		t.Errorf("the saved inputs differ from themselves: %v", err)
	}
	if len(got.Ledger.Entries) != 1 {
		t.Fatalf("ledger: %+v", got.Ledger.Entries)
	}
	e := got.Ledger.Entries[0]
	if e.ID != entry.ID || !e.First.Equal(entry.First) || !slices.Equal(e.Dates, entry.Dates) || e.Malformed != 1 {
		t.Errorf("entry read back = %+v", e)
	}
	if dates, err := got.Dates(); err != nil || !slices.Equal(dates, []string{"2026-11-23"}) {
		t.Errorf("Dates = %v, %v", dates, err)
	}
	// Saving the same again changes nothing (the Set drops equal files).
	b, _ := os.ReadFile(filepath.Join(dir, LedgerFile))
	commit(t, dir, got, *got.Meta, nil)
	if b2, _ := os.ReadFile(filepath.Join(dir, LedgerFile)); string(b2) != string(b) {
		t.Errorf("ledger changed on a second save:\n%s\n%s", b, b2)
	}
}

// Issue 16's old directories: day partitions of a keyrate before
// datasets are refused, naming them and what to do, never mixed in.
func TestOpenRefusesOldLayout(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, dir, "windows/date=2026-11-23/part-0.parquet", "x")
	mkfile(t, dir, "keys/date=2026-11-23/part-0.parquet", "x")
	mkfile(t, dir, "manifest.json", "{}")
	_, err := Open(dir, report.OSFS{})
	var old *OldLayoutError
	if !errors.As(err, &old) {
		t.Fatalf("Open of an old partitioned directory: %v, want an *OldLayoutError", err)
	}
	msg := err.Error()
	for _, want := range []string{dir, "keys/date=2026-11-23", "windows/date=2026-11-23", MetaFile, "another --out"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// Hidden directories and the metadata directory are not tables.
	dir = t.TempDir()
	mkfile(t, dir, ".keyrate-staging/run-1/windows/date=2026-11-23/part-0.parquet", "x")
	mkfile(t, dir, "_keyrate/state/date=2026-11-23/x", "x")
	if d := open(t, dir); d.Meta != nil {
		t.Errorf("%+v", d.Meta)
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	for name, c := range map[string]struct{ meta, ledger, want string }{
		"newer format":  {`{"format": 2}`, `{"format": 1}`, "format 2"},
		"unknown field": {`{"format": 1, "shards": 3}`, `{"format": 1}`, "shards"},
		"not JSON":      {`{"format": 1`, `{"format": 1}`, "dataset.json"},
		"no ledger":     {`{"format": 1}`, "", "ledger.json"},
		"ledger format": {`{"format": 1}`, `{"format": 0}`, "ledger.json: format 0"},
		"id twice":      {`{"format": 1}`, `{"format": 1, "inputs": [{"id": "a"}, {"id": "a"}]}`, "listed twice"},
		"two values":    {`{"format": 1}`, `{"format": 1} {}`, "after the JSON value"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			mkfile(t, dir, MetaFile, c.meta)
			if c.ledger != "" {
				mkfile(t, dir, LedgerFile, c.ledger)
			}
			_, err := Open(dir, report.OSFS{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want an error saying %q", err, c.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	d := &Dataset{dir: "OUT"}
	if err := d.Check(meta); err != nil {
		t.Errorf("a new dataset refused a run: %v", err)
	}
	d.Meta = &meta
	same := meta
	same.Inputs = json.RawMessage(`{"time_zone":"UTC",  "format":"combined"}`)
	same.PolicyDigest, same.RetainDays = "sha256:other", 7 // not refusals
	if err := d.Check(same); err != nil {
		t.Errorf("same settings refused: %v", err)
	}
	for _, c := range []struct {
		run  Meta
		want string
	}{
		{Meta{Inputs: meta.Inputs, KeyDisplay: "raw"}, "key display hmac:0123456789abcdef, this run has raw"},
		{Meta{Inputs: json.RawMessage(`{"format":"json","time_zone":"UTC"}`), KeyDisplay: meta.KeyDisplay}, `format "combined", this run has "json"`},
		{Meta{Inputs: json.RawMessage(`{"format":"combined"}`), KeyDisplay: meta.KeyDisplay}, `time_zone "UTC", this run has (none)`},
	} {
		var me *MismatchError
		err := d.Check(c.run)
		if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "OUT: ") {
			t.Errorf("Check(%s): %v, want a *MismatchError saying %q", c.run.Inputs, err, c.want)
		}
	}
}

func TestDatesAndPaths(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{
		PartialFile("2026-11-24", 0), PartialFile("2026-11-24", 10), PartialFile("2026-11-24", 2),
		"partials/date=2026-11-24/notes.txt", PartialFile("2026-11-23", 0), "partials/.hidden/x",
	} {
		mkfile(t, dir, rel, "x")
	}
	mkfile(t, dir, MetaFile, `{"format": 1}`)
	mkfile(t, dir, LedgerFile, `{"format": 1}`)
	d := open(t, dir)
	if dates, err := d.Dates(); err != nil || !slices.Equal(dates, []string{"2026-11-23", "2026-11-24"}) {
		t.Errorf("Dates = %v, %v", dates, err)
	}
	files, err := d.PartialFiles("2026-11-24")
	want := []string{"partials/date=2026-11-24/part-0.parquet", "partials/date=2026-11-24/part-2.parquet", "partials/date=2026-11-24/part-10.parquet"}
	if err != nil || !slices.Equal(files, want) {
		t.Errorf("PartialFiles = %v, %v; want %v", files, err, want)
	}
	if files, err := d.PartialFiles("2026-01-01"); err != nil || len(files) != 0 {
		t.Errorf("PartialFiles of a date without = %v, %v", files, err)
	}
	if got := CheckpointFile("2026-11-24"); got != "_keyrate/state/date=2026-11-24.krs" {
		t.Errorf("CheckpointFile = %s", got)
	}
	mkfile(t, dir, "partials/date=26-11-2026/part-0.parquet", "x")
	if _, err := d.Dates(); err == nil || !strings.Contains(err.Error(), "date=26-11-2026") {
		t.Errorf("a misnamed partition: %v", err)
	}
}

// Retention removes the partials and checkpoints of dates before the
// horizon in the run's commit, and keeps the table partitions.
func TestExpire(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	commit(t, dir, d, meta, func(s *report.Set) error {
		for day := 20; day <= 30; day++ {
			date := time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC).Format(DateLayout)
			for _, rel := range []string{PartialFile(date, 0), CheckpointFile(date), "windows/date=" + date + "/part-0.parquet"} {
				if err := s.WriteFile(rel, []byte(date)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	d = open(t, dir)
	if h, err := Horizon("2026-11-30", 3); err != nil || !h.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Horizon = %v, %v", h, err)
	}
	if got, err := d.Expire("2026-11-30", 0); err != nil || len(got) != 0 {
		t.Errorf("retaining all: Expire = %v, %v", got, err)
	}
	if _, err := d.Expire("tomorrow", 3); err == nil {
		t.Error("Expire of a bad date: no error")
	}
	expired, err := d.Expire("2026-11-30", 3)
	want := []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"}
	if err != nil || !slices.Equal(expired, want) {
		t.Fatalf("Expire = %v, %v; want %v", expired, err, want)
	}
	commit(t, dir, d, *d.Meta, func(s *report.Set) error {
		for _, date := range expired {
			if err := s.Remove(PartialDir(date)); err != nil {
				return err
			}
			if err := s.Remove(CheckpointFile(date)); err != nil {
				return err
			}
		}
		return nil
	})
	d = open(t, dir)
	if dates, err := d.Dates(); err != nil || !slices.Equal(dates, []string{"2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"}) {
		t.Errorf("after expiry Dates = %v, %v", dates, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile("2026-11-26"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("expired checkpoint: %v", err)
	}
	for _, rel := range []string{CheckpointFile("2026-11-27"), "windows/date=2026-11-20/part-0.parquet"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
}
