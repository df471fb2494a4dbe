package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/parse"
	"github.com/keyrate/keyrate/parse/input"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/schema"
)

// dryRunSampleLines is how many non-blank lines --dry-run tries to parse
// per input to name its format.
const dryRunSampleLines = 10

// dryRun prints, for every input, its size, detected compression and
// whether its first lines parse, then the files a real run would write.
// It writes nothing and takes no lock. It fails (exit 1) when an input
// cannot be opened or its compression header is corrupt.
func dryRun(ctx context.Context, stdout io.Writer, paths []string, cfg pipeline.Config, out string, formats []report.Format, partition report.Partition) error {
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tSIZE\tCOMPRESSION\tFORMAT")
	var bad []string
	opener := input.Opener{Stdin: cfg.Stdin}
	defer opener.Close()
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := opener.Open(p)
		if err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\terror: %v\n", p, err)
			bad = append(bad, p)
			continue
		}
		format, err := sniffFormat(in, cfg)
		in.Close()
		if err != nil {
			format = "error: " + detectAdvice(err).Error()
			bad = append(bad, p)
		}
		size := "stream"
		if in.Size >= 0 {
			size = fmt.Sprint(in.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, size, in.Compression, format)
	}
	tw.Flush()
	files := report.PlannedFiles(schema.Tables, formats, partition)
	fmt.Fprintf(stdout, "\nwould write to %s: %s\n", out, strings.Join(files, ", "))
	if len(bad) > 0 {
		return fmt.Errorf("dry run: %d of %d inputs cannot be read: %s", len(bad), len(paths), strings.Join(bad, ", "))
	}
	return nil
}

// sniffFormat detects in's format as a run would, then parses its first
// non-blank lines and says how many the parser accepted.
func sniffFormat(in *input.Input, cfg pipeline.Config) (string, error) {
	lr := input.NewLineReader(in, cfg.MaxLineBytes)
	name, parser, err := pipeline.Detect(in, lr, cfg)
	if err != nil || parser == nil {
		return name, err
	}
	var rec parse.Record
	tried, ok := 0, 0
	for tried < dryRunSampleLines {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err == parse.ErrLineTooLong {
			tried++
			continue
		}
		if err != nil {
			return "", err
		}
		if len(line) == 0 {
			continue
		}
		switch err := parser.Parse(line, &rec); {
		case err == parse.ErrNoRecord:
			// header or notice lines (W3C #Fields, HAProxy start-up)
			// hold no request: they are not samples
		case err == nil:
			tried++
			ok++
		default:
			tried++
		}
	}
	switch {
	case tried == 0:
		return "empty", nil
	case ok == 0:
		// A run reads the file as name all the same (detection chose it,
		// from a header or the file's other lines): its lines will count
		// as malformed. "unrecognized" said otherwise.
		return fmt.Sprintf("%s, but 0/%d sample lines parse (malformed in a run)", name, tried), nil
	}
	return fmt.Sprintf("%s (%d/%d sample lines parse)", name, ok, tried), nil
}
