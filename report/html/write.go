package html

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

var (
	//go:embed page.tmpl
	pageTmpl string
	//go:embed page.css
	pageCSS string
	//go:embed search.js
	searchJS string
)

// csp allows the one inline script, by its hash, and nothing else to run
// or load: markup smuggled past the escaping (by a key name, say) could
// neither execute nor reach the network. Inline styles stay allowed
// because vgsvg styles every SVG element with a style attribute.
var csp = func() string {
	h := sha256.Sum256([]byte(searchJS))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
}()

// tmpl is parsed on first use: keyrate runs that write no HTML skip it.
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"n":     group,
		"count": count,
		"pct":   pct,
		"utc":   utc,
		"key":   keyText,
		"inc":   func(i int) int { return i + 1 },
		"int64": func(i int) int64 { return int64(i) },
	}).Parse(pageTmpl))
})

// page is the template's data.
type page struct {
	*Report
	Title  string
	CSP    string
	Style  template.CSS
	Script template.JS
	Index  template.JS

	TopExcess, TopLeaked  []ranked
	Sections              []section // one per charted key
	NCharts               int
	Inputs                []Input
	InputsLeftOut         int
	Indexed, IndexLeftOut int
	IndexOverflow         bool // more keys than the index holds
}

// ranked is a row of a top table, linked to its key's charts.
type ranked struct {
	KeyRow
	Anchor string
}

// section is one charted key: its totals and one figure per limit.
type section struct {
	ID    string
	Row   KeyRow
	Ranks string
	Figs  []figure
}

type figure struct {
	ID    string
	Chart Chart // as drawn (coarsened)
	// Merged says how buckets were merged to fit MaxChartPoints, or "".
	Merged string
	SVG    template.HTML
	// Totals over the chart's buckets, shown in its caption.
	Requests, Ideal, Real int64
}

// Write writes r as one self-contained HTML page. It fails, naming no key,
// when a charted key has no charts or a chart's series are inconsistent.
func Write(w io.Writer, r *Report) error {
	d := page{Report: r, Title: r.Title, CSP: csp, Style: template.CSS(pageCSS), Script: template.JS(searchJS)}
	if d.Title == "" {
		d.Title = "keyrate audit"
	}
	if err := d.sections(); err != nil {
		return err
	}
	if err := d.index(); err != nil {
		return err
	}
	d.Inputs = r.Inputs[:min(len(r.Inputs), MaxInputRows)]
	d.InputsLeftOut = len(r.Inputs) - len(d.Inputs)
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := tmpl().Execute(bw, &d); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return bw.Flush()
}

// sections lays out the charted keys and draws their charts, in parallel
// (a few ms each).
func (d *page) sections() error {
	row := map[string]KeyRow{}    // a charted key's totals, from the first list naming it
	rank := map[string]string{}   // "#1 by excess, #3 by leaked"
	anchor := map[string]string{} // the id of its section
	for _, list := range []struct {
		rows []KeyRow
		by   string
	}{{d.Report.TopExcess, "excess"}, {d.Report.TopLeaked, "leaked"}} {
		for i, k := range list.rows {
			if _, ok := row[k.Key]; !ok {
				row[k.Key] = k
			} else {
				rank[k.Key] += ", "
			}
			rank[k.Key] += "#" + strconv.Itoa(i+1) + " by " + list.by
		}
	}
	type job struct{ s, f int }
	var jobs []job
	for i, key := range d.Report.ChartKeys() {
		charts := d.Report.Charts[key]
		if len(charts) == 0 {
			return fmt.Errorf("html: charted key %d (%s) has no charts", i+1, rank[key])
		}
		s := section{ID: "key-" + strconv.Itoa(i+1), Row: row[key], Ranks: rank[key]}
		anchor[key] = s.ID
		for j, c := range charts {
			if err := c.check(); err != nil {
				return fmt.Errorf("html: chart %d of charted key %d (%s): %v", j+1, i+1, rank[key], err)
			}
			f := figure{ID: s.ID + "-" + strconv.Itoa(j+1), Chart: coarsen(c, MaxChartPoints)}
			if f.Chart.Step != c.Step {
				f.Merged = fmt.Sprintf("shown per %s, summed from %s buckets of %v",
					stepName(f.Chart.Step), group(int64(len(c.Requests))), c.Step)
			}
			for b := range f.Chart.Requests {
				f.Requests += f.Chart.Requests[b]
				f.Ideal += f.Chart.Ideal[b]
				f.Real += f.Chart.Real[b]
			}
			s.Figs = append(s.Figs, f)
			jobs = append(jobs, job{i, j})
		}
		d.Sections = append(d.Sections, s)
	}
	for _, k := range d.Report.TopExcess {
		d.TopExcess = append(d.TopExcess, ranked{KeyRow: k, Anchor: anchor[k.Key]})
	}
	for _, k := range d.Report.TopLeaked {
		d.TopLeaked = append(d.TopLeaked, ranked{KeyRow: k, Anchor: anchor[k.Key]})
	}

	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := range next {
				f := &d.Sections[jobs[i].s].Figs[jobs[i].f]
				svg, err := svgChart(f.Chart)
				// Trusted as HTML: svgChart writes no text from the
				// logs or the policy, and vgsvg escapes what it writes.
				f.SVG, errs[i] = template.HTML(svg), err
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("html: chart %d of charted key %d: %w", jobs[i].f+1, jobs[i].s+1, err)
		}
	}
	return nil
}

// keyIndex is the search index: columns rather than one object per key,
// which halves the JSON. Plans are numbers into Plans.
type keyIndex struct {
	Plans    []string `json:"plans"`
	Key      []string `json:"key"`
	Plan     []int    `json:"plan"`
	Requests []int64  `json:"req"`
	Excess   []int64  `json:"exc"`
	Leaked   []int64  `json:"leak"`
	FT       []int64  `json:"ft"`
	// Charted maps index positions to the id of the key's charts.
	Charted [][2]any `json:"charted"`
}

func (d *page) index() error {
	rows := slices.Clone(d.Report.Index)
	slices.SortFunc(rows, IndexOrder)
	rows = rows[:min(len(rows), MaxIndexKeys)]
	d.Indexed = len(rows)
	d.IndexLeftOut = max(0, int(d.Report.Summary.Keys)-len(rows))

	anchor := map[string]string{}
	for _, s := range d.Sections {
		anchor[s.Row.Key] = s.ID
	}
	ix := keyIndex{
		Plans: []string{}, Key: make([]string, len(rows)), Plan: make([]int, len(rows)),
		Requests: make([]int64, len(rows)), Excess: make([]int64, len(rows)),
		Leaked: make([]int64, len(rows)), FT: make([]int64, len(rows)), Charted: [][2]any{},
	}
	plan := map[string]int{}
	for i, r := range rows {
		p, ok := plan[r.Plan]
		if !ok {
			p = len(ix.Plans)
			plan[r.Plan] = p
			ix.Plans = append(ix.Plans, r.Plan)
		}
		ix.Key[i], ix.Plan[i], ix.Requests[i] = r.Key, p, r.Requests
		ix.Excess[i], ix.Leaked[i], ix.FT[i] = r.Excess, r.Leaked, r.FalseThrottles
		if a, ok := anchor[r.Key]; ok {
			ix.Charted = append(ix.Charted, [2]any{i, a})
		}
	}
	// json.Marshal escapes <, > and & (\u003c…): no key can close the
	// <script> element the index sits in.
	b, err := json.Marshal(ix)
	if err != nil {
		return fmt.Errorf("html: index: %w", err)
	}
	d.Index = template.JS(b)
	return nil
}
