package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyrate/keyrate/report/schema"
)

// TestAnalyzeMemoryBudgetSpillsIdentically runs the command with and
// without a budget small enough to spill: the reports are byte-identical,
// the manifest records the spill and peak RSS, and --tmp-dir is left empty.
func TestAnalyzeMemoryBudgetSpillsIdentically(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&log, "10.0.0.1 - - [01/Nov/2026:10:%02d:%02d +0000] \"GET /a?api_key=k%d HTTP/1.1\" %d %d\n",
			i/600%60, i/10%60, i*7%300, []int{200, 429, 503}[i%3], i%1000)
	}
	in := filepath.Join(dir, "access.log")
	if err := os.WriteFile(in, log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	runOnce := func(out string, extra ...string) schema.Manifest {
		args := append([]string{"--limit", "5/min", "--output", "csv", "--workers", "2", "--out", out}, extra...)
		if err := runAnalyze(context.Background(), quietInvocation(), append(args, in)); err != nil {
			t.Fatal(err)
		}
		var m schema.Manifest
		b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	free := runOnce(filepath.Join(dir, "free"))
	tight := runOnce(filepath.Join(dir, "tight"), "--memory", "1KiB", "--tmp-dir", tmp)
	for _, table := range []string{"windows", "violations", "keys"} {
		a, _ := os.ReadFile(filepath.Join(dir, "free", table+".csv"))
		b, _ := os.ReadFile(filepath.Join(dir, "tight", table+".csv"))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s.csv differs with --memory 1KiB (%d vs %d bytes)", table, len(a), len(b))
		}
	}
	if free.SpilledBytes != 0 || tight.SpilledBytes <= 0 {
		t.Fatalf("spilled_bytes: unbounded %d, 1KiB %d", free.SpilledBytes, tight.SpilledBytes)
	}
	if tight.PeakRSSBytes <= 0 || tight.Totals.Keys != 300 || free.Totals.Keys != 300 {
		t.Fatalf("peak_rss_bytes %d, keys %d/%d", tight.PeakRSSBytes, tight.Totals.Keys, free.Totals.Keys)
	}
	for _, m := range []schema.Manifest{free, tight} {
		if m.ReadSeconds <= 0 || m.ReadSeconds > m.WallSeconds {
			t.Fatalf("read_seconds %g of wall_seconds %g: want a part of it", m.ReadSeconds, m.WallSeconds)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("%d entries left in --tmp-dir", len(left))
	}
}

func TestAnalyzeRejectsBadMemory(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"analyze", "--memory", "lots", "--limit", "1/s", "x.log"}, io.Discard, &stderr)
	if code != exitUsage || !bytes.Contains(stderr.Bytes(), []byte("lots")) {
		t.Fatalf("--memory lots: exit %d, stderr %q; want a usage error naming the value", code, stderr.String())
	}
}
