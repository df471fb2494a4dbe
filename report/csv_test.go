package report

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"testing"
	"time"
)

// neutraliseFormula is the reference form of a guarded cell.
func neutraliseFormula(s string) string {
	if isFormula(s) {
		return "'" + s
	}
	return s
}

// TestCSVFieldsMatchEncodingCSV: the hand-written cell writer quotes and
// escapes exactly as encoding/csv does, guard quote included, on random
// cells full of separators, quotes, line breaks, spaces and formulas.
func TestCSVFieldsMatchEncodingCSV(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "Z", "7", ",", "\"", "\r", "\n", " ", "\t", "=", "+", "-", "@", "\\", ".", "é", "\u00a0", "'"}
	for range 20000 {
		var rec []string
		for range 1 + r.IntN(4) {
			var b []byte
			for range r.IntN(6) {
				b = append(b, alphabet[r.IntN(len(alphabet))]...)
			}
			rec = append(rec, string(b))
		}
		if r.IntN(20) == 0 {
			rec[0] = `\.`
		}
		for _, raw := range []bool{false, true} {
			var want bytes.Buffer
			cw := csv.NewWriter(&want)
			ref := make([]string, len(rec))
			for i, c := range rec {
				ref[i] = c
				if !raw {
					ref[i] = neutraliseFormula(c)
				}
			}
			cw.Write(ref)
			cw.Flush()
			var got []byte
			for i, c := range rec {
				if i > 0 {
					got = append(got, ',')
				}
				var guard byte
				if !raw && isFormula(c) {
					guard = '\''
				}
				got = appendCSVField(got, guard, c)
			}
			got = append(got, '\n')
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("raw=%v %q: got %q, want %q", raw, rec, got, want.Bytes())
			}
		}
	}
}

// TestCSVWriteAllocatesNothing pins the report tail's cost per row.
func TestCSVWriteAllocatesNothing(t *testing.T) {
	type row struct {
		Key   string    `parquet:"key"`
		At    time.Time `parquet:"at,timestamp(millisecond)"`
		N     int64     `parquet:"n"`
		Usage float64   `parquet:"usage"`
	}
	var out bytes.Buffer
	tab, err := newCSVTable[row](&out, false)
	if err != nil {
		t.Fatal(err)
	}
	x := row{Key: "=k, \"q\"", At: time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC), N: -3, Usage: 0.25}
	tab.write(&x) // warm the line buffer
	if allocs := testing.AllocsPerRun(100, func() { tab.write(&x) }); allocs != 0 {
		t.Errorf("write allocates %.1f times per row", allocs)
	}
	tab.close()
	if want := "key,at,n,usage\n\"'=k, \"\"q\"\"\",2026-11-23T10:05:00Z,-3,0.25\n"; !bytes.HasPrefix(out.Bytes(), []byte(want)) {
		t.Errorf("CSV starts %q, want %q", out.String()[:min(out.Len(), len(want))], want)
	}
}
