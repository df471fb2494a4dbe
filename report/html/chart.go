package html

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// MaxChartPoints is the most buckets a chart draws: a day at one minute.
// Longer series are merged into wider buckets (see coarsen), which keeps
// each SVG near 40 KB and every line readable.
const MaxChartPoints = 1440

const (
	chartW, chartH = 720, 230 // pt; the page scales the SVG to its width
	legendH        = 16       // pt above the plot for the legend's row
	marginR        = 10       // pt right of the plot, for the last time label
	// stepBuckets is the most buckets whose requests are drawn as steps.
	stepBuckets = 240
	// dataLeft is where the data area starts: charts stacked on the page
	// line up whatever their y labels' width (up to six digits).
	dataLeft = 58
)

var (
	colRequests = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	colAllow    = color.RGBA{R: 0xc0, G: 0x20, B: 0x20, A: 0xff}
	colIdeal    = color.RGBA{R: 0xe0, G: 0x7b, B: 0x00, A: 0xff}
	colReal     = color.RGBA{A: 0xff}
	colGrid     = color.RGBA{R: 0xdd, G: 0xe1, B: 0xe5, A: 0xff}
)

// check returns what makes c undrawable. Its messages name no key: the
// caller adds the chart's position.
func (c *Chart) check() error {
	n := len(c.Requests)
	switch {
	case n == 0:
		return errors.New("no buckets")
	case len(c.Allowance) != n || len(c.Ideal) != n || len(c.Real) != n:
		return fmt.Errorf("%d request buckets but %d allowance, %d ideal, %d real", n, len(c.Allowance), len(c.Ideal), len(c.Real))
	case c.Step <= 0:
		return fmt.Errorf("bucket width %v", c.Step)
	}
	for i := range n {
		if c.Requests[i] < 0 || c.Ideal[i] < 0 || c.Real[i] < 0 || c.Allowance[i] < 0 ||
			math.IsNaN(c.Allowance[i]) || math.IsInf(c.Allowance[i], 0) {
			return fmt.Errorf("bucket %d: negative or not finite", i)
		}
	}
	return nil
}

// coarsen merges runs of k buckets (sums; the allowance per bucket sums
// too) so that c has at most max buckets. k makes the new width a round
// duration where one is within twice the least k (5 minutes rather than
// 4, but 21 seconds rather than a week of 7-second buckets).
func coarsen(c Chart, max int) Chart {
	n := len(c.Requests)
	if n <= max {
		return c
	}
	k := (n + max - 1) / max
	for _, s := range roundSteps {
		if f := int(s / c.Step); s%c.Step == 0 && f >= k && f <= 2*k {
			k = f
			break
		}
	}
	m := (n + k - 1) / k
	out := Chart{Limit: c.Limit, Definition: c.Definition, Start: c.Start, Step: c.Step * time.Duration(k),
		Requests: make([]int64, m), Allowance: make([]float64, m), Ideal: make([]int64, m), Real: make([]int64, m)}
	for i := range n {
		j := i / k
		out.Requests[j] += c.Requests[i]
		out.Allowance[j] += c.Allowance[i]
		out.Ideal[j] += c.Ideal[i]
		out.Real[j] += c.Real[i]
	}
	return out
}

// roundSteps are the bucket widths coarsen prefers, and the spacing of the
// time axis' labelled ticks.
var roundSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// sans is gonum's Liberation Sans; its default is the serif face.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// svgChart draws c (already coarsened) as an SVG element ready to inline.
// The SVG holds no text from the logs or the policy (the page's caption
// names the limit): only numbers, times and fixed labels.
func svgChart(c Chart) ([]byte, error) {
	n := len(c.Requests)
	p := plot.New()
	p.X.Label.Text = "time (UTC), " + dateSpan(c.Start, c.Start.Add(time.Duration(n)*c.Step))
	p.Y.Label.Text = "requests per " + stepName(c.Step)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(9)
		a.Tick.Label.Font = sans(8.5)
		a.LineStyle.Color = color.Gray{Y: 0x90}
		a.Tick.LineStyle.Color = color.Gray{Y: 0x90}
		a.Padding = 0
	}
	p.X.Tick.Marker = utcTicks{}
	p.Y.Tick.Marker = countTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = colGrid, colGrid
	grid.Vertical.Width, grid.Horizontal.Width = 0.5, 0.5
	p.Add(grid)

	x := func(i int) float64 { return float64(c.Start.Add(time.Duration(i) * c.Step).Unix()) }
	// Requests are a step line while a bucket is wider than about 2.5 pt;
	// beyond, steps cannot be seen and would double the path: a line
	// through the buckets' middles. The allowance is a step line with a
	// point where it changes only (a constant one is two points), and the
	// end of the last bucket.
	steps := n <= stepBuckets
	var req, allow, ideal, real plotter.XYs
	ymax := 1.0
	for i := range n {
		r := float64(c.Requests[i])
		mid := plotter.XY{X: (x(i) + x(i+1)) / 2, Y: r}
		if steps {
			req = append(req, plotter.XY{X: x(i), Y: r})
		} else {
			req = append(req, mid)
		}
		if i == 0 || c.Allowance[i] != c.Allowance[i-1] {
			allow = append(allow, plotter.XY{X: x(i), Y: c.Allowance[i]})
		}
		if c.Ideal[i] > 0 {
			ideal = append(ideal, mid)
		}
		if c.Real[i] > 0 {
			real = append(real, mid)
		}
		ymax = max(ymax, r, c.Allowance[i])
	}
	if steps {
		req = append(req, plotter.XY{X: x(n), Y: req[n-1].Y})
	}
	allow = append(allow, plotter.XY{X: x(n), Y: c.Allowance[n-1]})
	p.X.Min, p.X.Max = x(0), x(n)
	p.Y.Min, p.Y.Max = 0, ymax*1.08

	var legend []legendEntry
	reqLine, err := plotter.NewLine(req)
	if err != nil {
		return nil, err
	}
	if steps {
		reqLine.StepStyle = plotter.PostStep
	}
	reqLine.Color, reqLine.Width = colRequests, 1
	p.Add(reqLine)
	legend = append(legend, legendEntry{"requests", reqLine})

	allowLine, err := plotter.NewLine(allow)
	if err != nil {
		return nil, err
	}
	allowLine.StepStyle = plotter.PostStep
	allowLine.Color, allowLine.Width, allowLine.Dashes = colAllow, 1.4, []vg.Length{5, 3}
	p.Add(allowLine)
	legend = append(legend, legendEntry{"allowance", allowLine})

	for _, m := range []struct {
		pts   plotter.XYs
		label string
		style draw.GlyphStyle
	}{
		{ideal, "ideal rejection", draw.GlyphStyle{Color: colIdeal, Radius: 2.6, Shape: draw.CircleGlyph{}}},
		{real, "gateway rejection", draw.GlyphStyle{Color: colReal, Radius: 3, Shape: boldCross{}}},
	} {
		if len(m.pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(m.pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = m.style
		p.Add(sc)
		legend = append(legend, legendEntry{m.label, sc})
	}

	cv := vgsvg.NewWith(vgsvg.UseWH(chartW, chartH))
	dc := draw.New(cv)
	area := draw.Crop(dc, 0, -marginR, 0, -legendH-4)
	if shift := dataLeft - (p.DataCanvas(area).Min.X - area.Min.X); shift > 0 {
		area = draw.Crop(area, shift, 0, 0, 0)
	}
	p.Draw(area)
	drawLegend(dc, legend)
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, err
	}
	return inlineSVG(buf.Bytes()), nil
}

type legendEntry struct {
	text  string
	thumb plot.Thumbnailer
}

// drawLegend writes the entries in one row, right-aligned above the plot:
// gonum's legend is a column, which would take the plot's width or cover
// its data.
func drawLegend(dc draw.Canvas, entries []legendEntry) {
	const thumbW, gap = 16, 14
	sty := plot.NewLegend().TextStyle
	sty.Font = sans(8.5)
	var w vg.Length
	for _, e := range entries {
		w += thumbW + 4 + sty.Width(e.text) + gap
	}
	x := dc.Max.X - marginR - w + gap
	y := dc.Max.Y - legendH
	for _, e := range entries {
		e.thumb.Thumbnail(&draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y + 2}, Max: vg.Point{X: x + thumbW, Y: y + legendH - 4}}})
		x += thumbW + 4
		dc.FillText(sty, vg.Point{X: x, Y: y + 4}, e.text)
		x += sty.Width(e.text) + gap
	}
}

// boldCross is gonum's cross glyph with a line that stays visible over
// the dots it marks (gonum's is 0.5 pt).
type boldCross struct{}

func (boldCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: 1.1})
	r := sty.Radius * 0.7071
	var p vg.Path
	p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
	p.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
	c.Stroke(p)
}

var (
	svgProlog = regexp.MustCompile(`^<\?xml[^>]*\?>\s*(<!--[^>]*-->\s*)?`)
	svgRoot   = regexp.MustCompile(`^<svg width="[^"]*" height="[^"]*"`)
)

// inlineSVG adapts vgsvg's document to an element inside HTML: no XML
// prolog or comment (an HTML parser reads them as bogus comments), no
// fixed size in pt (the viewBox stays, so CSS scales it), and fonts that
// fall back to the metric-compatible Arial and Helvetica where Liberation
// Sans (which gonum measured the labels with) is not installed.
func inlineSVG(svg []byte) []byte {
	svg = svgProlog.ReplaceAll(svg, nil)
	svg = svgRoot.ReplaceAll(svg, []byte(`<svg class="chart" role="img"`))
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// stepName names a bucket width for "requests per …".
func stepName(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d == u.d {
			return u.name
		}
		if d%u.d == 0 {
			return fmt.Sprintf("%d %ss", d/u.d, u.name)
		}
	}
	return d.String()
}

// dateSpan is the UTC date of from, or the dates from–to when the range
// ends on a later day.
func dateSpan(from, to time.Time) string {
	a, b := from.UTC().Format(time.DateOnly), to.Add(-time.Nanosecond).UTC().Format(time.DateOnly)
	if a == b {
		return a
	}
	return a + " – " + b
}

// utcTicks label the time axis at round UTC times, at most 8 of them.
type utcTicks struct{}

func (utcTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := roundSteps[len(roundSteps)-1]
	for _, s := range roundSteps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	minor := step / 2
	if step%(4*time.Minute) == 0 || step%(4*time.Second) == 0 {
		minor = step / 4
	}
	if step == 3*time.Hour || step == 6*time.Hour || step == 15*time.Second || step == 15*time.Minute {
		minor = step / 3
	}
	layout := "15:04"
	switch {
	case step >= 24*time.Hour:
		layout = "Jan 2"
	case span > 24*time.Hour:
		layout = "Jan 2 15:04"
	case step < time.Minute:
		layout = "15:04:05"
	}
	ms, ss := minor.Milliseconds(), step.Milliseconds()
	var off int64 // weeks start on Mondays, 1970-01-05, not on the epoch's Thursday
	if step%(7*24*time.Hour) == 0 {
		off = 4 * 24 * 3600 * 1000
	}
	var ticks []plot.Tick
	for t := int64(math.Ceil((lo*1000-float64(off))/float64(ms)))*ms + off; float64(t) <= hi*1000; t += ms {
		tk := plot.Tick{Value: float64(t) / 1000}
		if (t-off)%ss == 0 {
			tk.Label = time.UnixMilli(t).UTC().Format(layout)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// countTicks are gonum's default ticks, labelled as the page writes
// numbers (1,200 rather than 1200.0), and only at whole requests.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		switch {
		case ts[i].Label == "":
		case ts[i].Value == math.Trunc(ts[i].Value):
			ts[i].Label = group(int64(ts[i].Value))
		default:
			ts[i].Label = ""
		}
	}
	return ts
}
