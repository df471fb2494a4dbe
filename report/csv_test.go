package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
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

// TestCSVReadsEveryKindOfColumn: the writer reads a row's fields at their
// offsets, by kind and size. Every column type a report row may use,
// named types and odd sizes included, must print as reflection and
// strconv print the same values.
func TestCSVReadsEveryKindOfColumn(t *testing.T) {
	type count int32
	type label string
	type allKinds struct {
		A int8    `parquet:"a"`
		B int16   `parquet:"b"`
		C count   `parquet:"c"`
		D int     `parquet:"d"`
		E int64   `parquet:"e"`
		F float32 `parquet:"f"`
		G float64 `parquet:"g"`
		H bool    `parquet:"h"`
		I label   `parquet:"i"`
		J time.Time
		K string `parquet:"-"`
	}
	rng := rand.New(rand.NewPCG(3, 3))
	var rows []allKinds
	for range 200 {
		rows = append(rows, allKinds{
			A: int8(rng.IntN(256) - 128), B: int16(rng.IntN(65536) - 32768), C: count(rng.Int32() - 1<<30),
			D: int(rng.Int64()) - 1<<62, E: -rng.Int64(), F: float32(rng.NormFloat64()), G: rng.NormFloat64() * 1e6,
			H: rng.IntN(2) == 0, I: label(fmt.Sprint("v", rng.IntN(1000))),
			J: time.UnixMilli(rng.Int64N(4e12)).UTC(), K: "not written",
		})
	}
	var out bytes.Buffer
	tab, err := newCSVTable[allKinds](&out, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := tab.write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a,b,c,d,e,f,g,h,i,J"}
	for _, r := range rows {
		v := reflect.ValueOf(r)
		var cells []string
		for i := range v.NumField() - 1 {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int, reflect.Int64:
				cells = append(cells, strconv.FormatInt(f.Int(), 10))
			case reflect.Float32, reflect.Float64:
				cells = append(cells, strconv.FormatFloat(f.Float(), 'g', -1, 64))
			case reflect.Bool:
				cells = append(cells, strconv.FormatBool(f.Bool()))
			case reflect.String:
				cells = append(cells, f.String())
			default:
				cells = append(cells, r.J.Format(csvTimeLayout))
			}
		}
		want = append(want, strings.Join(cells, ","))
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("line %d: %q, want %q", i, got[min(i, len(got)-1)], want[i])
		}
	}
}
