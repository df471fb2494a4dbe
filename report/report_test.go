package report

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type basicRow struct {
	Key   string    `parquet:"key,dict"`
	At    time.Time `parquet:"at,timestamp(millisecond)"`
	Count int64     `parquet:"count"`
	Skip  string    `parquet:"-"`
}

// sampleRows are in key order, as report tables require.
var sampleRows = []basicRow{
	{Key: "multi\nline", At: time.UnixMilli(0), Count: -3},
	{Key: `plain`, At: time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC), Count: 1},
	{Key: `with,comma and "quote"`, At: time.Date(2026, 11, 23, 10, 5, 0, 250e6, time.FixedZone("x", 3600)), Count: 2},
}

func TestCSVIsRFC4180WithUTCTimes(t *testing.T) {
	dir := t.TempDir()
	writeTable(t, dir, "things", []Format{CSV}, sampleRows, rowsManifest("things", len(sampleRows)))
	f, err := os.Open(filepath.Join(dir, "things.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"key", "at", "count"},
		{"multi\nline", "1970-01-01T00:00:00Z", "-3"},
		{"plain", "2026-11-23T10:05:00Z", "1"},
		{`with,comma and "quote"`, "2026-11-23T09:05:00.25Z", "2"},
	}
	if !slices.EqualFunc(recs, want, slices.Equal) {
		t.Errorf("CSV = %q\nwant %q", recs, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "things.parquet")); !os.IsNotExist(err) {
		t.Errorf("parquet written though only CSV was asked for")
	}
}

func TestCommitLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	writeTable(t, dir, "things", []Format{CSV, Parquet}, sampleRows, rowsManifest("things", len(sampleRows)))
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"manifest.json", "things.csv", "things.parquet"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

func TestAbortKeepsPreviousReports(t *testing.T) {
	dir := t.TempDir()
	writeTable(t, dir, "things", []Format{CSV}, sampleRows, rowsManifest("things", len(sampleRows)))
	before, _ := os.ReadFile(filepath.Join(dir, "things.csv"))

	set, err := NewSet(dir, []Format{CSV, Parquet})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(set, tableOf[basicRow]("things"))
	if err != nil {
		t.Fatal(err)
	}
	tab.Write(&basicRow{Key: "new"})
	set.Abort()

	after, _ := os.ReadFile(filepath.Join(dir, "things.csv"))
	if string(before) != string(after) {
		t.Error("an aborted run changed the previous report")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestParseFormats(t *testing.T) {
	got, err := ParseFormats([]string{"parquet", "csv", "parquet"})
	if err != nil || !slices.Equal(got, []Format{Parquet, CSV}) {
		t.Errorf("ParseFormats = %v, %v", got, err)
	}
	if _, err := ParseFormats([]string{"xlsx"}); err == nil {
		t.Error("xlsx accepted")
	}
	if _, err := ParseFormats(nil); err == nil {
		t.Error("empty list accepted")
	}
}
