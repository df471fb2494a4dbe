package main

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/cmd/internal/analysis"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/parquetlog"
)

// TestErrorsNameFlags: parse's errors name values; what the command
// line says names the flags, word for word as before parse stopped
// naming them.
func TestErrorsNameFlags(t *testing.T) {
	badPattern := "("
	_, reErr := regexp.Compile("^(?:" + badPattern + ")$")
	const roles = "time, remote_addr, user, method, uri, query, request, proto, status, bytes, referer, user_agent, start, duration"
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"format", func() error { _, err := parse.LookupFormat("nope", parse.FormatOptions{}); return err },
			`--format "nope": unknown format (want ` + parse.FormatHelp() + ")"},
		{"layout without time", func() error {
			_, err := parse.LookupFormat("", parse.FormatOptions{LogFormat: "$remote_addr $status"})
			return err
		}, `--log-format "$remote_addr $status": no time variable ($time_local, $time_iso8601, $msec; %t, %{...}t; %START_TIME%)`},
		{"layout mixing syntaxes", func() error { _, err := parse.CompileLayout("$remote_addr %h"); return err },
			`--log-format "$remote_addr %h": mixes nginx $variables and Apache %directives`},
		{"layout syntax", func() error { _, err := parse.CompileLayout("%{X-Api-Key i"); return err },
			`--log-format "%{X-Api-Key i": unterminated %{ at byte 1`},
		{"field", func() error { _, err := parse.ParseFieldMap([]string{"time=ts, when=x"}); return err },
			`--field "when=x": unknown role "when" (want one of ` + roles + ")"},
		{"field syntax", func() error { _, err := parse.ParseFieldMap([]string{"time"}); return err },
			`--field "time": want ROLE=NAME, as in time=ts`},
		{"time", func() error { _, err := parse.LookupFormat("combined", parse.FormatOptions{Time: "first"}); return err },
			`--time "first": want arrival or logged`},
		{"key pattern", func() error { _, err := parse.CompileKeyPattern(badPattern); return err },
			`--key-pattern "(": ` + reErr.Error()},
		{"undetected", func() error {
			_, err := new(parse.Detector).Detect([]byte("hello\n"), true, parse.FormatOptions{})
			return fmt.Errorf("x.log: %w", err)
		}, `x.log: no known log format matches; first line: "hello" (use --format or --log-format)`},
		{"no line to detect from", func() error {
			_, err := new(parse.Detector).Detect([]byte("no end"), false, parse.FormatOptions{})
			return fmt.Errorf("x.log: %w", err)
		}, `x.log: no complete line in the first 6 bytes to detect the format from (use --format)`},
		{"parquet without known columns", func() error {
			return fmt.Errorf("x.parquet: %w", &parquetlog.UnmappedError{Columns: []string{"ts", "path"}})
		}, `x.parquet: no column is a known role (columns: [ts path]); map them with --field, e.g. --field time=ts`},
		{"other errors pass", func() error { return fmt.Errorf("x: %w", parse.ErrNoRecord) }, "x: " + parse.ErrNoRecord.Error()},
		// An input file no format reads may be no log at all: leaving it
		// out is the advice, and how.
		{"undetected file", func() error {
			_, err := new(parse.Detector).Detect([]byte("2026/11/23 10:00:00 [error] 12#12: oops\n"), true, parse.FormatOptions{})
			return fmt.Errorf("run: %w", &pipeline.InputError{Path: "logs/error.log", Err: err})
		}, `run: logs/error.log: no known log format matches; first line: "2026/11/23 10:00:00 [error] 12#12: oops" (if it is not an access log, leave it out with --exclude error.log; if it is, name its format with --format or --log-format)`},
		{"undetected file with an odd name", func() error {
			_, err := new(parse.Detector).Detect([]byte("no end"), false, parse.FormatOptions{})
			return &pipeline.InputError{Path: "logs/it's here.txt", Err: err}
		}, `logs/it's here.txt: no complete line in the first 6 bytes to detect the format from (if it is not an access log, leave it out with --exclude 'it'\''s here.txt'; if it is, name its format with --format)`},
		{"undetected stdin", func() error {
			_, err := new(parse.Detector).Detect([]byte("hello\n"), true, parse.FormatOptions{})
			return &pipeline.InputError{Path: "<stdin>", Stdin: true, Err: err}
		}, `<stdin>: no known log format matches; first line: "hello" (use --format or --log-format)`},
		{"tar", func() error { return &pipeline.InputError{Path: "old/logs.tar.gz", Err: parse.ErrTarArchive} },
			`old/logs.tar.gz: a tar archive, not a log (extract it, as with tar -xf, and give keyrate its files; or leave it out with --exclude logs.tar.gz)`},
	} {
		if got := detectAdvice(analysis.FlagError(c.err())).Error(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
