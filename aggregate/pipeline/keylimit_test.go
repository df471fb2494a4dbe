package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/parse"
)

// The case: keys over 1 MiB failed any run that spilled (the run
// reader capped keys, the writer did not). Parsing now has a limit below
// the runs' (which readers and writers share): keys at it spill and
// merge back whole, longer ones are invalid keys, counted, and the run
// goes on.
func TestKeysAtTheLimitSpillAndMerge(t *testing.T) {
	if parse.MaxKeyBytes > aggregate.MaxKeyBytes {
		t.Fatalf("parse.MaxKeyBytes %d > aggregate.MaxKeyBytes %d: a key parse accepts may not spill", parse.MaxKeyBytes, aggregate.MaxKeyBytes)
	}
	at := func(c byte) string { return strings.Repeat("k", parse.MaxKeyBytes-1) + string(c) }
	keys := []string{at('a'), at('b'), at('c'), "short"}
	over := strings.Repeat("o", parse.MaxKeyBytes+1)
	var log strings.Builder
	for i := range 60 {
		key := keys[i%len(keys)]
		if i%5 == 4 {
			key = over
		}
		fmt.Fprintf(&log, "10.0.0.1 - - [23/Nov/2026:10:%02d:%02d +0000] \"GET /x?api_key=%s HTTP/1.1\" 200 5 \"-\" \"t\"\n", i/60, i%60, key)
	}
	path := filepath.Join(t.TempDir(), "long-keys.log")
	os.WriteFile(path, []byte(log.String()), 0o644)
	cfg := baseConfig()
	cfg.MaxLineBytes = 256 << 10
	cfg.Workers, cfg.MemoryBytes, cfg.TmpDir = 2, 1, t.TempDir() // spill after every block
	res, err := Run(context.Background(), []string{path}, cfg)
	if err != nil {
		t.Fatalf("run with keys at and over the limit: %v", err)
	}
	defer res.Close()
	if res.Spills == 0 {
		t.Fatal("nothing spilled: the test does not test runs")
	}
	f := res.Files[0]
	if f.InvalidKey != 12 || f.Parsed != 60 || f.Malformed != 0 {
		t.Errorf("parsed %d, invalid keys %d, malformed %d; want 60, 12, 0", f.Parsed, f.InvalidKey, f.Malformed)
	}
	requests := keyRequests(t, res.Source)
	if len(requests) != len(keys) {
		t.Fatalf("%d keys merged, want %d", len(requests), len(keys))
	}
	for _, k := range keys {
		if requests[k] != 12 {
			t.Errorf("key of %d bytes: %d requests, want 12", len(k), requests[k])
		}
	}
}
