package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/parse"
)

// Each input records which time its lines were read at; a file whose
// lines differ lists every kind, however it was cut into blocks, and
// counts the lines whose time is not the arrival.
func TestTimeSourcePerInput(t *testing.T) {
	dir := t.TempDir()
	var mixed strings.Builder
	for i := range 3000 {
		if i%3 == 0 { // a line without Traefik's StartUTC
			fmt.Fprintf(&mixed, `{"time":"2021-03-16T18:56:%02dZ","RequestMethod":"GET","RequestPath":"/?api_key=k%d","DownstreamStatus":200}`+"\n", i%60, i%7)
			continue
		}
		fmt.Fprintf(&mixed, `{"StartUTC":"2021-03-16T18:56:%02d.735539596Z","Duration":40356,"RequestMethod":"GET","RequestPath":"/?api_key=k%d","DownstreamStatus":200,"time":"2021-03-16T18:56:%02dZ"}`+"\n", i%60, i%7, i%60)
	}
	json := writeFile(t, dir, "traefik.log", []byte(mixed.String()))
	combined := writeFile(t, dir, "access.log", []byte("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /?api_key=k1 HTTP/1.1\" 200 5 \"-\" \"curl\"\n"))
	for _, block := range []int{0, 4096} {
		cfg := autoConfig("query:api_key")
		cfg.BlockBytes = block
		res, err := Run(context.Background(), []string{json, combined}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Files[0]; f.TimeSource != "arrival (StartUTC); unknown (time)" || f.TimeNotArrival != 1000 || f.TimeAdvice == "" {
			t.Errorf("blocks of %d: %s: time source %q, %d not at arrival, advice %q", block, f.Path, f.TimeSource, f.TimeNotArrival, f.TimeAdvice)
		}
		if f := res.Files[1]; f.TimeSource != "unknown ([time])" || f.TimeNotArrival != 1 {
			t.Errorf("%s: time source %q, %d not at arrival", f.Path, f.TimeSource, f.TimeNotArrival)
		}
	}
	cfg := autoConfig("query:api_key")
	cfg.FormatOptions.Time = parse.TimeLogged
	res, err := Run(context.Background(), []string{json}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Files[0]; f.TimeSource != "arrival (StartUTC); unknown (time)" {
		t.Errorf("logged: time source %q", f.TimeSource)
	}
}

func TestAddTimeSource(t *testing.T) {
	for _, c := range []struct{ list, src, want string }{
		{"", "logged (ts)", "logged (ts)"},
		{"logged (ts)", "logged (ts)", "logged (ts)"},
		{"logged (ts)", "arrival (ts - duration)", "arrival (ts - duration); logged (ts)"},
		{"arrival (a); logged (b)", "logged (b)", "arrival (a); logged (b)"},
		{"arrival (a)", "", "arrival (a)"},
	} {
		if got := addTimeSource(c.list, c.src); got != c.want {
			t.Errorf("addTimeSource(%q, %q) = %q, want %q", c.list, c.src, got, c.want)
		}
	}
}
