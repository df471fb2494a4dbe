package html

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCoarsen(t *testing.T) {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	mk := func(n int, step time.Duration) Chart {
		c := Chart{Start: day, Step: step}
		for i := range n {
			c.Requests = append(c.Requests, int64(i%7))
			c.Ideal = append(c.Ideal, int64(i%3))
			c.Real = append(c.Real, int64(i%2))
			c.Allowance = append(c.Allowance, 0.5)
		}
		return c
	}
	sum := func(v []int64) (s int64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	for _, tc := range []struct {
		n        int
		step     time.Duration
		wantStep time.Duration
		wantN    int
	}{
		{1440, time.Minute, time.Minute, 1440},                  // fits
		{86400, time.Second, time.Minute, 1440},                 // a day of seconds: minutes
		{86401, time.Second, 2 * time.Minute, 721},              // one more: the next round width
		{7 * 1440, time.Minute, 10 * time.Minute, 1008},         // a week of minutes
		{3000, 7 * time.Second, 21 * time.Second, 1000},         // no round width within reach: ceil(3000/1440) = 3
		{100000, time.Millisecond, 70 * time.Millisecond, 1429}, // 1 s would be 1,000 ms, far beyond 70
	} {
		c := mk(tc.n, tc.step)
		got := coarsen(c, MaxChartPoints)
		if got.Step != tc.wantStep || len(got.Requests) != tc.wantN || len(got.Allowance) != tc.wantN {
			t.Errorf("%d × %v: %d × %v, want %d × %v", tc.n, tc.step, len(got.Requests), got.Step, tc.wantN, tc.wantStep)
		}
		if sum(got.Requests) != sum(c.Requests) || sum(got.Ideal) != sum(c.Ideal) || sum(got.Real) != sum(c.Real) {
			t.Errorf("%d × %v: totals changed", tc.n, tc.step)
		}
		if k := float64(got.Step / tc.step); len(got.Requests) > 1 && got.Allowance[0] != 0.5*k {
			t.Errorf("%d × %v: allowance per bucket %g, want %g", tc.n, tc.step, got.Allowance[0], 0.5*k)
		}
	}
}

func TestUTCTicks(t *testing.T) {
	day := float64(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Unix())
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (utcTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{day, day + 86400, []string{"00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "00:00"}},
		{day + 36000, day + 36300, []string{"10:00", "10:01", "10:02", "10:03", "10:04", "10:05"}},
		{day, day + 60, []string{"00:00:00", "00:00:10", "00:00:20", "00:00:30", "00:00:40", "00:00:50", "00:01:00"}},
		{day, day + 3*86400, []string{"Nov 23 00:00", "Nov 23 12:00", "Nov 24 00:00", "Nov 24 12:00", "Nov 25 00:00", "Nov 25 12:00", "Nov 26 00:00"}},
		{day, day + 30*86400, []string{"Nov 23", "Nov 30", "Dec 7", "Dec 14", "Dec 21"}}, // weeks start on Monday
		{day + 86400, day + 30*86400, []string{"Nov 30", "Dec 7", "Dec 14", "Dec 21"}},
	} {
		if got := labels(tc.lo, tc.hi); !slices.Equal(got, tc.want) {
			t.Errorf("%v to %v: %q, want %q", time.Unix(int64(tc.lo), 0).UTC(), time.Unix(int64(tc.hi), 0).UTC(), got, tc.want)
		}
	}
}

func TestCountTicks(t *testing.T) {
	var got []string
	for _, tk := range (countTicks{}).Ticks(0, 7.5) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	if want := []string{"0", "5"}; !slices.Equal(got, want) {
		t.Errorf("0 to 7.5: %q, want %q (no half requests)", got, want)
	}
	got = got[:0]
	for _, tk := range (countTicks{}).Ticks(0, 15000) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	if want := []string{"0", "5,000", "10,000", "15,000"}; !slices.Equal(got, want) {
		t.Errorf("0 to 15000: %q, want %q", got, want)
	}
}

func TestStepName(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "second", time.Minute: "minute", 5 * time.Minute: "5 minutes", time.Hour: "hour",
		2 * time.Hour: "2 hours", 24 * time.Hour: "day", 90 * time.Second: "90 seconds", 1500 * time.Millisecond: "1.5s",
	} {
		if got := stepName(d); got != want {
			t.Errorf("stepName(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSVGChart(t *testing.T) {
	c := Chart{Limit: "<x>", Definition: "<y>", Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Step: time.Minute,
		Requests: []int64{1, 5, 9, 2}, Allowance: []float64{4, 4, 4, 4}, Ideal: []int64{0, 1, 5, 0}, Real: []int64{0, 1, 4, 1}}
	svg, err := svgChart(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<svg class="chart" role="img" viewBox="0 0 720 230"`, `font-family:'Liberation Sans',Arial,Helvetica,sans-serif;`, "gateway rejection"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the SVG lacks %s", want)
		}
	}
	for _, bad := range []string{"<?xml", "<!--", `width="720pt"`, "font-family:Liberation Sans;", "<x>", "&lt;x", "Serif"} {
		if bytes.Contains(svg, []byte(bad)) {
			t.Errorf("the SVG contains %s", bad)
		}
	}
}

func TestKeyText(t *testing.T) {
	for in, want := range map[string]string{
		"k_abc":            "k_abc",
		`<b>&"'`:           "&lt;b&gt;&amp;&#34;&#39;",
		"k_\u202etxt.exe":  `k_<span class="cc">U+202E</span>txt.exe`,
		"a\tb\x00c\u200bd": `a<span class="cc">U+0009</span>b<span class="cc">U+0000</span>c<span class="cc">U+200B</span>d`,
		"\ufeff<":          `<span class="cc">U+FEFF</span>&lt;`,
	} {
		if got := string(keyText(in)); got != want {
			t.Errorf("keyText(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := group(v); got != want {
			t.Errorf("group(%d) = %q, want %q", v, got, want)
		}
	}
	if got := count(1, "request") + "; " + count(1200, "request") + "; " + pct(1, 3) + "; " + pct(1, 0); got != "1 request; 1,200 requests; 33.3%; –" {
		t.Errorf("got %q", got)
	}
	if got := dateSpan(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)); got != "2026-11-23" {
		t.Errorf("a day: %q", got)
	}
	if got := dateSpan(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)); !strings.Contains(got, "– 2026-11-25") {
		t.Errorf("three days: %q", got)
	}
}

func BenchmarkChart(b *testing.B) {
	c := Chart{Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), Step: time.Minute}
	for i := range 1440 {
		r := int64(300 + (i*37)%400)
		c.Requests = append(c.Requests, r)
		c.Allowance = append(c.Allowance, 600)
		c.Ideal = append(c.Ideal, max(0, r-600))
		c.Real = append(c.Real, int64(i%50/49)*3)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		svg, err := svgChart(c)
		if err != nil {
			b.Fatal(err)
		}
		n = len(svg)
	}
	b.ReportMetric(float64(n)/1e3, "KB/chart")
}
