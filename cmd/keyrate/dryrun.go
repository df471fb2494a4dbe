package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/parse/input"
)

// dryRun prints, for every input, its size, detected compression and
// whether its first lines parse (pipeline.ProbeInputs: what a run would
// do), then the files a real run would write. It writes nothing and
// takes no lock. It fails (exit 1) when an input cannot be opened, its
// compression header is corrupt or no format matches it.
func dryRun(ctx context.Context, stdout io.Writer, paths []string, cfg pipeline.Config, out string, files []string) error {
	probes, err := pipeline.ProbeInputs(ctx, paths, cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tSIZE\tCOMPRESSION\tFORMAT")
	var bad []string
	for _, p := range probes {
		// Names and errors are one line each, whatever a file name holds.
		name := input.QuotePath(p.Name)
		if p.Err != nil && p.Compression == "" {
			fmt.Fprintf(tw, "%s\t-\t-\terror: %s\n", name, escapeUnsafe(inputAdvice(p.Err).Error()))
			bad = append(bad, name)
			continue
		}
		format := probeVerdict(p)
		if p.Err != nil {
			format = "error: " + inputAdvice(p.Err).Error()
			bad = append(bad, name)
		}
		size := "stream"
		if p.Size >= 0 {
			size = fmt.Sprint(p.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, size, p.Compression, escapeUnsafe(format))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nwould write to %s: %s\n", out, strings.Join(files, ", "))
	if len(bad) > 0 {
		return fmt.Errorf("dry run: %d of %d inputs cannot be read: %s", len(bad), len(paths), strings.Join(bad, ", "))
	}
	return nil
}

// probeVerdict says in a few words how a run will read the input.
func probeVerdict(p pipeline.Probe) string {
	switch {
	case p.Format == "parquet" || p.Format == "empty":
		return p.Format
	case p.Sampled == 0:
		return "empty"
	case p.Parsed == 0:
		// A run reads the file as Format all the same (detection chose
		// it, from a header or the file's other lines): its lines will
		// count as malformed.
		return fmt.Sprintf("%s, but 0/%d sample lines parse (malformed in a run)", p.Format, p.Sampled)
	}
	return fmt.Sprintf("%s (%d/%d sample lines parse)", p.Format, p.Parsed, p.Sampled)
}
