package parse

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestLayoutRoundTripProperty builds random nginx layouts from known and
// custom variables, writes lines from random values the way nginx would,
// and checks that the compiled layout reads every value back.
func TestLayoutRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(alphabet string, n int) string {
		var b strings.Builder
		for range 1 + r.IntN(n) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789._/:-%"
	type gen struct {
		name   string
		quoted bool
		value  func() string
	}
	t0 := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	vars := []gen{
		{"remote_addr", false, func() string { return fmt.Sprintf("%d.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)) }},
		{"remote_user", false, func() string { return word("abcxyz", 8) }},
		{"request", true, func() string { return "GET /" + word(safe, 20) + "?api_key=" + word("abc123", 10) + " HTTP/1.1" }},
		{"status", false, func() string { return fmt.Sprint(100 + r.IntN(500)) }},
		{"body_bytes_sent", false, func() string { return fmt.Sprint(r.IntN(1 << 20)) }},
		{"http_user_agent", true, func() string { return word(safe+" ()", 30) }},
		{"http_x_api_key", true, func() string { return word(safe, 16) }},
		{"request_time", false, func() string { return fmt.Sprintf("%d.%03d", r.IntN(10), r.IntN(1000)) }},
		{"upstream", false, func() string { return word(safe, 12) }},
	}
	seps := []string{" ", " - ", " | ", "\t", ";", ", "}
	for iter := range 500 {
		// time_local in brackets first, then a random subset in random order.
		perm := r.Perm(len(vars))
		chosen := perm[:1+r.IntN(len(vars))]
		var layout, line strings.Builder
		ts := t0.Add(time.Duration(r.IntN(1e6)) * time.Second)
		layout.WriteString("[$time_local]")
		line.WriteString("[" + ts.Format("02/Jan/2006:15:04:05 -0700") + "]")
		want := map[string]string{}
		for _, i := range chosen {
			g := vars[i]
			sep := seps[r.IntN(len(seps))]
			v := g.value()
			if !g.quoted {
				// An unquoted value cannot contain the text that follows it
				// (nginx layouts have the same limit): drop separator bytes.
				v = strings.NewReplacer(",", "", ";", "", "|", "", "-", "", " ", "", "\t", "").Replace(v)
				if v == "" {
					v = "x"
				}
			}
			want[g.name] = v
			if g.quoted {
				layout.WriteString(sep + `"$` + g.name + `"`)
				line.WriteString(sep + `"` + v + `"`)
			} else {
				layout.WriteString(sep + "$" + g.name)
				line.WriteString(sep + v)
			}
		}
		l, err := CompileLayout(layout.String())
		if err != nil {
			t.Fatalf("compile %q: %v", layout.String(), err)
		}
		var rec Record
		if err := l.Parse([]byte(line.String()), &rec); err != nil {
			t.Fatalf("iteration %d: layout %q line %q: %v", iter, layout.String(), line.String(), err)
		}
		// With $request_time the time is the arrival: $time_local less
		// the duration rounded to whole seconds.
		wantMs := ts.UnixMilli()
		if rt, ok := want["request_time"]; ok {
			d, err := time.ParseDuration(rt + "s")
			if err != nil {
				t.Fatal(err)
			}
			wantMs -= d.Round(time.Second).Milliseconds()
		}
		if rec.TimeMillis != wantMs {
			t.Fatalf("layout %q line %q: time %d, want %d", layout.String(), line.String(), rec.TimeMillis, wantMs)
		}
		for name, v := range want {
			var got string
			switch name {
			case "remote_addr":
				got = string(rec.RemoteAddr)
			case "remote_user":
				got = string(rec.User)
			case "request":
				got = string(rec.Method) + " " + string(rec.Target) + " " + string(rec.Proto)
			case "status":
				got = fmt.Sprint(rec.Status)
			case "body_bytes_sent":
				got = fmt.Sprint(rec.Bytes)
			case "http_user_agent":
				got = string(rec.UserAgent)
			default:
				got = string(rec.Field(name))
			}
			if got != v {
				t.Fatalf("layout %q line %q: %s = %q, want %q", layout.String(), line.String(), name, got, v)
			}
		}
	}
}

// TestQuotedExtentMatchesByteLoop: a quoted value's end is found with one
// SIMD scan per quote, falling back to the escape-aware byte loop when a
// backslash sits before a quote. On random lines dense in quotes,
// backslashes and separators, both must agree for every literal that can
// follow a quoted variable.
func TestQuotedExtentMatchesByteLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var l Layout
	v := &layoutVar{quoted: true}
	nexts := [][]byte{[]byte(`"`), []byte(`" `), []byte(`" "`), []byte(`"|`), []byte(`";`)}
	const alphabet = `ab"\ |;-`
	for range 200_000 {
		line := make([]byte, r.IntN(40))
		for i := range line {
			line[i] = alphabet[r.IntN(len(alphabet))]
		}
		pos := r.IntN(len(line) + 1)
		next := nexts[r.IntN(len(nexts))]
		gotEnd, gotOK := l.extent(line, pos, v, next)
		wantEnd, wantOK := quotedEnd(line, pos, next)
		if gotEnd != wantEnd || gotOK != wantOK {
			t.Fatalf("line %q from %d, next %q: end %d %v, byte loop %d %v", line, pos, next, gotEnd, gotOK, wantEnd, wantOK)
		}
	}
}
