package html_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	nethtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/keyrate/keyrate/report/html"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// small is a report of three keys, one of them hostile, each with one
// short chart: small enough to read its outline in a golden file.
func small() *html.Report {
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	chart := func(limit string, req, ideal, real []int64, allow float64) html.Chart {
		c := html.Chart{Limit: limit, Definition: "5 per 1m (fixed)", Start: start, Step: time.Minute,
			Requests: req, Ideal: ideal, Real: real}
		for range req {
			c.Allowance = append(c.Allowance, allow)
		}
		return c
	}
	evil := `</script><script>alert(1)</script>`
	r := &html.Report{
		Summary: html.Summary{
			From: start, To: start.Add(5*time.Minute - time.Second),
			Lines: 60, Requests: 52, Keys: 3, Plans: 2,
			Excess: 9, Caught: 6, Leaked: 3, FalseThrottles: 1,
			Malformed: 2, Keyless: 5, InvalidKeys: 1,
			Version: "1.4.0", Policy: "--limit 5/min", PolicyDigest: "sha256:00ff", KeyDisplay: "raw",
		},
		Inputs: []html.Input{{Path: "testdata/a.log", Format: "combined", Lines: 60, Malformed: 2, Keyless: 5, InvalidKeys: 1}},
		Plans: []html.PlanRow{
			{Plan: "cli", Keys: 2, KeysOver: 2, Requests: 40, Excess: 9, Caught: 6, Leaked: 3, FalseThrottles: 1},
			{Plan: "<b>gold</b>", Keys: 1, Requests: 12},
		},
		Limits: []html.LimitRow{{Plan: "cli", Limit: "5/min", Definition: "5 per 1m (fixed)", KeysOver: 2, Excess: 9, Caught: 6, Leaked: 3}},
		TopExcess: []html.KeyRow{
			{Key: evil, Plan: "cli", Requests: 25, Excess: 7, Caught: 6, Leaked: 1, FalseThrottles: 1},
			{Key: "k_b", Plan: "cli", Requests: 15, Excess: 2, Leaked: 2},
		},
		TopLeaked: []html.KeyRow{
			{Key: "k_b", Plan: "cli", Requests: 15, Excess: 2, Leaked: 2},
			{Key: evil, Plan: "cli", Requests: 25, Excess: 7, Caught: 6, Leaked: 1, FalseThrottles: 1},
		},
		Charts: map[string][]html.Chart{
			evil:  {chart("5/min", []int64{3, 9, 8, 3, 2}, []int64{0, 4, 3, 0, 0}, []int64{0, 4, 2, 1, 0}, 5)},
			"k_b": {chart("5/min", []int64{1, 7, 2, 5, 0}, []int64{0, 2, 0, 0, 0}, []int64{0, 0, 0, 0, 0}, 5)},
		},
		Index: []html.KeyRow{
			{Key: "k_c", Plan: "<b>gold</b>", Requests: 12},
			{Key: "k_b", Plan: "cli", Requests: 15, Excess: 2, Leaked: 2},
			{Key: evil, Plan: "cli", Requests: 25, Excess: 7, Caught: 6, Leaked: 1, FalseThrottles: 1},
		},
	}
	return r
}

func write(t testing.TB, r *html.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := html.Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWriteGolden compares the page's outline (elements, ids, data
// attributes, text; charts as their labels) with testdata/small.golden:
// a review of what a reader sees, robust to the exact SVG bytes.
func TestWriteGolden(t *testing.T) {
	out := write(t, small())
	doc, err := nethtml.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	outline(&b, doc, 0)
	golden := filepath.Join("testdata", "small.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./report/html -run Golden -update writes it)", err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s:%d: the page's outline differs (go test ./report/html -run Golden -update rewrites it)\n got: %s\nwant: %s", golden, i+1, g, w)
			}
		}
	}
}

var space = regexp.MustCompile(`\s+`)

// outline writes one line per element: tag, id, class, data attributes
// and its own text; an SVG chart as its text labels, scripts as a size.
func outline(b *strings.Builder, n *nethtml.Node, depth int) {
	if n.Type == nethtml.ElementNode {
		if n.DataAtom == atom.Head {
			return
		}
		fmt.Fprintf(b, "%s%s", strings.Repeat("  ", depth), n.Data)
		for _, a := range n.Attr {
			if a.Key == "id" || a.Key == "class" || a.Key == "href" || strings.HasPrefix(a.Key, "data-") {
				fmt.Fprintf(b, " %s=%q", a.Key, a.Val)
			}
		}
		switch {
		case n.DataAtom == atom.Svg:
			var labels []string
			paths := 0
			walk(n, func(c *nethtml.Node) {
				switch c.Data {
				case "text":
					labels = append(labels, text(c))
				case "path":
					paths++
				}
			})
			fmt.Fprintf(b, " paths>0=%v texts=%q\n", paths > 0, labels)
			return
		case n.DataAtom == atom.Script:
			fmt.Fprintf(b, " (%d bytes)\n", len(text(n)))
			return
		}
		var own []string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == nethtml.TextNode {
				if s := strings.TrimSpace(space.ReplaceAllString(c.Data, " ")); s != "" {
					own = append(own, s)
				}
			}
		}
		if len(own) > 0 {
			fmt.Fprintf(b, " %q", strings.Join(own, " … "))
		}
		b.WriteString("\n")
		depth++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		outline(b, c, depth)
	}
}

func walk(n *nethtml.Node, f func(*nethtml.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func text(n *nethtml.Node) string {
	var b strings.Builder
	walk(n, func(c *nethtml.Node) {
		if c.Type == nethtml.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func elements(doc *nethtml.Node, a atom.Atom) []*nethtml.Node {
	var out []*nethtml.Node
	walk(doc, func(n *nethtml.Node) {
		if n.Type == nethtml.ElementNode && n.DataAtom == a {
			out = append(out, n)
		}
	})
	return out
}

func attr(n *nethtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestWriteEscapes: keys, plans, limit names and paths that are markup
// stay text everywhere, and nothing from them reaches an SVG.
func TestWriteEscapes(t *testing.T) {
	r := synthetic(300, 12, 3)
	out := write(t, r)
	for _, bad := range []string{"<img src=x", "<script>alert", "<b>bold</b>", "<i>enterprise</i>", "</text><script>", "<edge-3>"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	doc, err := nethtml.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(elements(doc, atom.Img)); n != 0 {
		t.Errorf("%d <img> elements, want none", n)
	}
	if n := len(elements(doc, atom.Script)); n != 2 {
		t.Errorf("%d <script> elements, want 2", n)
	}
	if n := len(elements(doc, atom.B)) + len(elements(doc, atom.I)); n != 0 {
		t.Errorf("%d <b>/<i> elements from names, want none", n)
	}
	// Every hostile key is somewhere on the page as text, and as the
	// data-key of its chart section.
	var keysText, dataKeys []string
	for _, n := range elements(doc, atom.Code) {
		keysText = append(keysText, text(n))
	}
	for _, n := range elements(doc, atom.Article) {
		dataKeys = append(dataKeys, attr(n, "data-key"))
	}
	for _, k := range hostile {
		if !slices.Contains(dataKeys, k) {
			t.Errorf("no chart section with data-key %q", k)
		}
		if !slices.Contains(keysText, strings.ReplaceAll(k, "\u202e", "U+202E")) {
			t.Errorf("key %q is not shown as text (headings: %q)", k, keysText)
		}
	}
	// The SVGs hold numbers, times and fixed labels only.
	label := regexp.MustCompile(`^([0-9,.:]+|[A-Z][a-z]{2} [0-9]+( [0-9:]+)?|time \(UTC\), [0-9 –-]+|requests per [a-z0-9 ]+|requests|allowance|ideal rejection|gateway rejection)$`)
	for _, svg := range elements(doc, atom.Svg) {
		walk(svg, func(n *nethtml.Node) {
			if n.Data == "text" && !label.MatchString(text(n)) {
				t.Errorf("an SVG holds the text %q", text(n))
			}
		})
	}
	// The index is JSON that gives the keys back exactly.
	var ix struct{ Key []string }
	for _, s := range elements(doc, atom.Script) {
		if attr(s, "id") == "key-index" {
			if err := json.Unmarshal([]byte(text(s)), &ix); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range hostile {
		if !slices.Contains(ix.Key, k) {
			t.Errorf("the index lacks %q", k)
		}
	}
}

// TestWriteCSP: the policy allows exactly the page's one script, and
// nothing is loaded from anywhere.
func TestWriteCSP(t *testing.T) {
	doc, err := nethtml.Parse(bytes.NewReader(write(t, small())))
	if err != nil {
		t.Fatal(err)
	}
	var policy string
	for _, m := range elements(doc, atom.Meta) {
		if attr(m, "http-equiv") == "Content-Security-Policy" {
			policy = attr(m, "content")
		}
	}
	var hashes []string
	for _, s := range elements(doc, atom.Script) {
		if attr(s, "type") == "" {
			h := sha256.Sum256([]byte(text(s)))
			hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(h[:])+"'")
		}
	}
	if len(hashes) != 1 {
		t.Fatalf("%d executable scripts, want 1", len(hashes))
	}
	want := "default-src 'none'; script-src " + hashes[0] + "; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
	if policy != want {
		t.Errorf("CSP %q\nwant %q", policy, want)
	}
	walk(doc, func(n *nethtml.Node) {
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" && !strings.HasPrefix(a.Val, "#") {
				t.Errorf("<%s %s=%q>: the page refers to something outside itself", n.Data, a.Key, a.Val)
			}
		}
	})
}

// TestWriteDeterministic: the same model gives the same bytes, whatever
// the order of the index or of map insertion, and no clock reading
// unless the model has one.
func TestWriteDeterministic(t *testing.T) {
	a := write(t, synthetic(2000, 12, 7))
	r := synthetic(2000, 12, 7)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(r.Index), func(i, j int) { r.Index[i], r.Index[j] = r.Index[j], r.Index[i] })
	if b := write(t, r); !bytes.Equal(a, b) {
		t.Error("a shuffled index changed the page")
	}
	if bytes.Contains(a, []byte("generated")) && !bytes.Contains(a, []byte(`name="generator"`)) {
		t.Error("the page names a generation time the model lacks")
	}
	r.Generated = time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	if b := write(t, r); !bytes.Contains(b, []byte(`data-k="generated">2026-11-24 06:00:00Z<`)) {
		t.Error("the model's generation time is not on the page")
	}
}

// TestWriteIndexCap: beyond MaxIndexKeys the index keeps the first keys in
// IndexOrder, and the page says how many it left out.
func TestWriteIndexCap(t *testing.T) {
	r := small()
	for i := range html.MaxIndexKeys {
		r.Index = append(r.Index, html.KeyRow{Key: fmt.Sprintf("k_%06d", i), Plan: "cli", Requests: int64(i % 1000)})
	}
	r.Summary.Keys = int64(len(r.Index)) + 7 // seven more keys not offered at all
	doc, err := nethtml.Parse(bytes.NewReader(write(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	var ix struct {
		Key []string
		Exc []int64
	}
	for _, s := range elements(doc, atom.Script) {
		if attr(s, "id") == "key-index" {
			if err := json.Unmarshal([]byte(text(s)), &ix); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(ix.Key) != html.MaxIndexKeys {
		t.Fatalf("index of %d keys, want %d", len(ix.Key), html.MaxIndexKeys)
	}
	// The two keys with excess lead, then those with the most requests;
	// of the keys with no request, the last three by key are cut.
	if ix.Key[0] != `</script><script>alert(1)</script>` || ix.Key[1] != "k_b" || ix.Exc[2] != 0 {
		t.Errorf("index starts %q", ix.Key[:3])
	}
	for _, cut := range []string{"k_097000", "k_098000", "k_099000"} {
		if slices.Contains(ix.Key, cut) {
			t.Errorf("%s should have been left out", cut)
		}
	}
	for _, n := range elements(doc, atom.P) {
		if attr(n, "id") == "index-note" {
			if !strings.Contains(text(n), "the other 10 are in the keys table only") || attr(n, "data-left-out") != "10" {
				t.Errorf("index note %q, left out %q", text(n), attr(n, "data-left-out"))
			}
		}
	}
}

// TestWriteRejects: a model the page cannot show is an error naming the
// chart's place, never the key (a credential).
func TestWriteRejects(t *testing.T) {
	evil := `</script><script>alert(1)</script>`
	for name, tc := range map[string]struct {
		change func(*html.Report)
		msg    string
	}{
		"no charts": {func(r *html.Report) { delete(r.Charts, evil) }, "charted key 1 (#1 by excess, #2 by leaked) has no charts"},
		"lengths":   {func(r *html.Report) { r.Charts[evil][0].Ideal = r.Charts[evil][0].Ideal[:2] }, "5 request buckets but 5 allowance, 2 ideal, 5 real"},
		"step":      {func(r *html.Report) { r.Charts["k_b"][0].Step = 0 }, "chart 1 of charted key 2 (#2 by excess, #1 by leaked): bucket width 0s"},
		"empty": {func(r *html.Report) {
			c := &r.Charts["k_b"][0]
			c.Requests, c.Ideal, c.Real, c.Allowance = nil, nil, nil, nil
		}, "no buckets"},
		"negative": {func(r *html.Report) { r.Charts[evil][0].Real[3] = -1 }, "bucket 3: negative or not finite"},
	} {
		t.Run(name, func(t *testing.T) {
			r := small()
			tc.change(r)
			err := html.Write(&bytes.Buffer{}, r)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one saying %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "alert") || strings.Contains(err.Error(), "k_b") {
				t.Errorf("the error names a key: %v", err)
			}
		})
	}
}

// TestWriteEmpty: a run without keys still gives a complete page that
// says so.
func TestWriteEmpty(t *testing.T) {
	out := write(t, &html.Report{})
	for _, s := range []string{"No key went over its plan.", "The gateway served no request over a plan.", "No key to chart", "No plan had keys.", "No limits.", "No request went over its plan."} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("the empty page lacks %q", s)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	r := synthetic(html.MaxIndexKeys, 30, 1)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := html.Write(&buf, r); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
	b.ReportMetric(float64(buf.Len())/1e6, "MB/page")
}
