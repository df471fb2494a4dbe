package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// TestSortOrderDeclaredOnlyForVerbatimKeys: the Parquet files declare
// their sort order only when every key is written as is, which report
// learns from the rows it writes, also when the state was spilled and
// never held in memory at once. One key needing escapes
// (a literal backslash) among many plain ones must withdraw the claim.
func TestSortOrderDeclaredOnlyForVerbatimKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, hostile bool) string {
		var b strings.Builder
		ts := night0.Add(time.Hour)
		for i := range 600 {
			k := fmt.Sprintf("k%d", i%40)
			if hostile && i == 433 {
				k = "%5Cxff"
			}
			fmt.Fprintf(&b, "10.0.0.1 - - [%s] \"GET /x?api_key=%s HTTP/1.1\" 200 5 \"-\" \"t\"\n",
				ts.Add(time.Duration(i)*time.Second).Format("02/Jan/2006:15:04:05 -0700"), k)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sorted := func(out string) bool {
		t.Helper()
		f, err := os.Open(filepath.Join(out, "windows.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		declared := false
		for _, rg := range pf.Metadata().RowGroups {
			declared = declared || len(rg.SortingColumns) > 0
		}
		return declared
	}
	plain, hostile := write("plain.log", false), write("hostile.log", true)
	for _, extra := range [][]string{{}, {"--memory", "1KiB", "--workers", "3", "--tmp-dir", t.TempDir()}} {
		outP, outH := t.TempDir(), t.TempDir()
		mustAnalyze(t, append(append([]string{"--limit", "2/min", "--output", "parquet", "--out", outP}, extra...), plain)...)
		mustAnalyze(t, append(append([]string{"--limit", "2/min", "--output", "parquet", "--out", outH}, extra...), hostile)...)
		if !sorted(outP) {
			t.Errorf("%v: plain keys: no sort order declared", extra)
		}
		if sorted(outH) {
			t.Errorf("%v: a key needing escapes, yet a sort order is declared", extra)
		}
	}
}
