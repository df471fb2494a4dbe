package job

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyrate/keyrate/report"
)

// List writes what the dataset in dir holds: its inputs, the dates it
// keeps partials for, and the settings every run must agree with.
func List(w io.Writer, dir string) error {
	ds, err := openStore(dir, report.OSFS{})
	if err != nil {
		return err
	}
	if ds.Meta == nil {
		return fmt.Errorf("%s holds no dataset (none was written with --partition day)", dir)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "inputs (%d):\n", len(ds.Ledger.Entries))
	fmt.Fprintln(tw, "  ID\tPATH\tLINES\tDATES\tREAD AT")
	for _, e := range ds.Ledger.Entries {
		var dates []string
		for _, d := range e.Dates {
			dates = append(dates, d.Date)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", e.ID[:min(12, len(e.ID))], e.Path, e.Lines, span(dates), e.ReadAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndates with partials (%d, kept %d days before the newest): %s\n", len(ds.dates), ds.Meta.RetainDays, span(ds.dates))
	var size int64
	for _, d := range ds.dates {
		for _, k := range ds.classes[d] {
			if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(partialsPath(d, k)))); err == nil {
				size += st.Size()
			}
		}
	}
	fmt.Fprintf(w, "partials: %d bytes\n", size)
	fmt.Fprintf(w, "policy digest: %s\nkey display: %s\nsettings: %s\n", ds.Meta.PolicyDigest, strings.SplitN(ds.Meta.KeyDisplay, ":", 2)[0], ds.Meta.Inputs)
	return nil
}

func span(ds []string) string {
	switch len(ds) {
	case 0:
		return "-"
	case 1:
		return ds[0]
	}
	return ds[0] + ".." + ds[len(ds)-1]
}
