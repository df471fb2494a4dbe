package parse

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestW3CRoundTripProperty writes random W3C files (random column sets
// and order, header changes, space- or tab-separated, quoted values) and
// checks that every data line reads back its values.
func TestW3CRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	word := func(n int) string {
		const a = "abcdefghijklmnopqrstuvwxyz0123456789/._=&%+"
		var b strings.Builder
		for range 1 + r.IntN(n) {
			b.WriteByte(a[r.IntN(len(a))])
		}
		return b.String()
	}
	optional := []string{"c-ip", "cs-method", "cs-uri-query", "sc-status", "sc-bytes", "cs(User-Agent)", "cs(X-Api-Key)", "s-port", "x-edge-location"}
	p := NewW3C()
	var rec Record
	for iter := range 300 {
		cols := []string{"date", "time", "cs-uri-stem"}
		for _, c := range optional {
			if r.IntN(2) == 0 {
				cols = append(cols, c)
			}
		}
		r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
		if err := p.Parse([]byte("#Fields: "+strings.Join(cols, " ")), &rec); err != ErrNoRecord {
			t.Fatalf("header: %v", err)
		}
		tabs := r.IntN(2) == 0
		for range 1 + r.IntN(3) {
			ts := time.Date(2015, 1, 13, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(1e12)) * time.Millisecond)
			vals := map[string]string{}
			var fields []string
			for _, c := range cols {
				var v string
				switch c {
				case "date":
					v = ts.Format("2006-01-02")
				case "time":
					v = ts.Format("15:04:05.000")
				case "sc-status":
					v = fmt.Sprint(100 + r.IntN(500))
				case "sc-bytes", "s-port":
					v = fmt.Sprint(r.IntN(1 << 20))
				case "cs-uri-stem":
					v = "/" + word(10)
				default:
					v = word(12)
				}
				vals[c] = v
				if !tabs && r.IntN(4) == 0 {
					v = `"` + v + `"` // quoted values read without their quotes
				}
				fields = append(fields, v)
			}
			sep := " "
			if tabs {
				sep = "\t"
			} else if r.IntN(2) == 0 {
				sep = "   "
			}
			line := strings.Join(fields, sep)
			if err := p.Parse([]byte(line), &rec); err != nil {
				t.Fatalf("iteration %d: %q under %v: %v", iter, line, cols, err)
			}
			if rec.TimeMillis != ts.UnixMilli() || !rec.SubSecond {
				t.Fatalf("%q: time %d, want %d", line, rec.TimeMillis, ts.UnixMilli())
			}
			target := vals["cs-uri-stem"]
			if q, ok := vals["cs-uri-query"]; ok {
				target += "?" + q
			}
			checks := map[string]string{
				"target":          string(rec.Target),
				"c-ip":            string(rec.RemoteAddr),
				"cs-method":       string(rec.Method),
				"sc-status":       fmt.Sprint(rec.Status),
				"sc-bytes":        fmt.Sprint(rec.Bytes),
				"cs(User-Agent)":  string(rec.UserAgent),
				"cs(X-Api-Key)":   string(rec.Field("http_x_api_key")),
				"s-port":          string(rec.Field("s-port")),
				"x-edge-location": string(rec.Field("x-edge-location")),
			}
			if checks["target"] != target {
				t.Fatalf("%q: target %q, want %q", line, checks["target"], target)
			}
			for c, got := range checks {
				if want, ok := vals[c]; ok && got != want {
					t.Fatalf("%q: %s = %q, want %q", line, c, got, want)
				}
			}
		}
	}
}
