package analysis

import (
	"bytes"
	"slices"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/aggregate/policy"
	"github.com/keyrate/keyrate/cmd/internal/audit"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/html"
	"github.com/keyrate/keyrate/report/schema"
)

// pageName is the HTML report's file in --out.
const pageName = "report.html"

// parseOutputs splits --output into the table formats and whether
// report.html is asked for.
func parseOutputs(list []string) (formats []report.Format, page bool, err error) {
	tables := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == "html" })
	page = len(tables) < len(list)
	if page && len(tables) == 0 {
		return nil, true, nil // the page alone
	}
	formats, err = report.ParseFormats(tables)
	return formats, page, err
}

// PlannedFiles lists the files a run writes into --out with partition
// p, as --dry-run shows them: each table's in each format, report.html,
// the manifest.
func (c *Config) PlannedFiles(p report.Partition) []string {
	files := report.PlannedFiles(schema.Tables, c.Formats, p)
	if c.HTML {
		files = slices.Insert(files, len(files)-1, pageName) // the manifest stays last
	}
	return files
}

// page builds report.html from the rows of a run's evaluation, and the
// top offenders a run on a terminal ends with.
type page struct {
	b         *audit.Builder
	write     bool
	offenders func([]html.KeyRow)
}

// newPage returns the page of this run, nil without --output html or
// Offenders. show turns keys as the rows carry them into the page's text.
func (c *Config) newPage(show func(string) string) *page {
	if !c.HTML && c.Offenders == nil {
		return nil
	}
	return &page{b: audit.NewBuilder(nil, c.Eval.Policy, show), write: c.HTML, offenders: c.Offenders}
}

func (p *page) observe(next policy.Sink) policy.Sink {
	p.b.Next = next
	return p.b
}

// finish writes report.html into set, from manifest m and the partials
// evaluated (for the top keys' charts).
func (p *page) finish(set *report.Set, m *schema.Manifest, evaluated aggregate.Partials) error {
	if !p.write {
		evaluated = nil // no charts to draw
	}
	r, err := p.b.Report(m, evaluated)
	if err != nil {
		return err
	}
	if p.offenders != nil {
		p.offenders(r.TopExcess)
	}
	if !p.write {
		return nil
	}
	var buf bytes.Buffer
	if err := html.Write(&buf, r); err != nil {
		return err
	}
	return set.WriteFile(pageName, buf.Bytes())
}
