//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

// faultsDoc reads docs/faults.md.
func faultsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "faults.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docLine returns the line of doc that starts with prefix.
func docLine(t *testing.T, doc, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("docs/faults.md has no line starting %q", prefix)
	return ""
}

// The cron line of docs/faults.md, run by sh as cron runs it (the five
// schedule fields dropped, "\%" made "%") with keyrate replaced by a
// function exiting with each code: it mails (prints) only on trouble, and
// prints keyrate's own exit code. The line printed "failed: 1"
// for every failure, the code of its own test.
func TestCronLineInDocs(t *testing.T) {
	line := docLine(t, faultsDoc(t), "15 3 * * * keyrate analyze")
	cmd := strings.SplitN(line, " ", 6)[5]
	cmd = strings.ReplaceAll(cmd, `\%`, "%")
	cmd = strings.ReplaceAll(cmd, "/var/log/keyrate.jsonl", filepath.Join(t.TempDir(), "keyrate.jsonl"))
	for code := range 6 {
		script := "keyrate() { echo diagnostics >&2; return " + strconv.Itoa(code) + "; }\n" + cmd
		out, err := exec.Command("sh", "-c", script).CombinedOutput()
		want := ""
		if code != 0 && code != 5 {
			want = "keyrate failed: exit " + strconv.Itoa(code) + "\n"
		}
		if string(out) != want || err != nil {
			t.Errorf("keyrate exiting %d: the line prints %q (%v), want %q", code, out, err, want)
		}
	}
}

// The dry run's sample in docs/faults.md lists the files a run writes, as
// report.PlannedFiles does (throttle_audit was missing).
func TestDryRunSampleInDocs(t *testing.T) {
	line := docLine(t, faultsDoc(t), "would write to reports: ")
	want := "would write to reports: " + strings.Join(report.PlannedFiles(schema.Tables, []report.Format{report.CSV, report.Parquet}, report.NoPartition), ", ")
	if line != want {
		t.Errorf("docs/faults.md:\n%s\nwant\n%s", line, want)
	}
	doc := faultsDoc(t)
	for _, tbl := range schema.Tables {
		if !strings.Contains(doc[:strings.Index(doc, "## Exit codes")], "`"+tbl.Name+"`") {
			t.Errorf("docs/faults.md, how reports are written: no %s", tbl.Name)
		}
	}
}
