package html_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keyrate/keyrate/report/html"
)

// Environment of the browser test:
//
//	KEYRATE_BROWSER_TEST=1        a missing chromium fails the test (CI sets it) instead of skipping it
//	KEYRATE_CHROMIUM=PATH         the browser to drive (default: Debian's chromium)
//	KEYRATE_SCREENSHOT_DIR=DIR    where report.html, report.png (full page) and report.pdf (A4) go (default: the test's temp dir)
const (
	envRequire    = "KEYRATE_BROWSER_TEST"
	envChromium   = "KEYRATE_CHROMIUM"
	envScreenshot = "KEYRATE_SCREENSHOT_DIR"
)

// chromium finds the browser. Debian's /usr/bin/chromium is a shell
// wrapper that sources /etc/chromium.d (extension flags, API keys); the
// binary behind it is driven directly where it exists.
func chromium(t *testing.T) string {
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		return "/usr/lib/chromium/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome-headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("no chromium found, and %s=1 requires it: apt-get install -y chromium fonts-liberation, or set %s", envRequire, envChromium)
	}
	t.Skipf("no chromium found: apt-get install -y chromium fonts-liberation (or set %s) to run the browser test", envChromium)
	return ""
}

// shown is what the page shows for a key: control and format characters
// as U+XXXX. Written independently of the package's keyText.
func shown(key string) string {
	var b strings.Builder
	for _, r := range key {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x202e || r == 0x200b || r == 0xfeff {
			fmt.Fprintf(&b, "U+%04X", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pageState is what the page shows, read from the DOM at once.
type pageState struct {
	Figures []struct {
		ID       string  `json:"id"`
		Limit    string  `json:"limit"`
		Key      string  `json:"key"`
		Requests string  `json:"requests"`
		Ideal    string  `json:"ideal"`
		Real     string  `json:"real"`
		Caption  string  `json:"caption"`
		W        float64 `json:"w"`
		H        float64 `json:"h"`
		Paths    int     `json:"paths"`
		Texts    int     `json:"texts"`
		Visible  bool    `json:"visible"`
		BBoxW    float64 `json:"bboxW"`
		BBoxH    float64 `json:"bboxH"`
		Font     string  `json:"font"`
	} `json:"figures"`
	Cards       map[string]string `json:"cards"`
	TopExcess   [][]string        `json:"topExcess"`
	TopLeaked   [][]string        `json:"topLeaked"`
	Plans       [][]string        `json:"plans"`
	Limits      [][]string        `json:"limits"`
	Inputs      [][]string        `json:"inputs"`
	Headings    []string          `json:"headings"`
	Broken      []string          `json:"broken"` // links to ids that do not exist
	Images      int               `json:"images"`
	Scripts     int               `json:"scripts"`
	Indexed     string            `json:"indexed"`
	LeftOut     string            `json:"leftOut"`
	IndexNote   string            `json:"indexNote"`
	SearchCount string            `json:"searchCount"`
}

const readDOM = `(() => {
  const rows = sel => [...document.querySelectorAll(sel + " tbody tr")].map(tr => [...tr.cells].map(c => c.textContent));
  const note = document.getElementById("index-note");
  return {
    figures: [...document.querySelectorAll("figure")].map(f => {
      const s = f.querySelector("svg.chart"), r = s.getBoundingClientRect(), b = s.getBBox(), t = s.querySelector("text");
      return {id: f.id, limit: f.dataset.limit, key: f.closest("article").dataset.key,
        requests: f.dataset.requests, ideal: f.dataset.ideal, real: f.dataset.real,
        caption: f.querySelector("figcaption").textContent,
        w: r.width, h: r.height, paths: s.querySelectorAll("path").length, texts: s.querySelectorAll("text").length,
        visible: s.checkVisibility({opacityProperty: true, visibilityProperty: true}), bboxW: b.width, bboxH: b.height,
        font: t ? getComputedStyle(t).fontFamily : ""};
    }),
    cards: Object.fromEntries([...document.querySelectorAll("[data-k]")].map(e => [e.dataset.k, e.textContent])),
    topExcess: rows("#top-excess"), topLeaked: rows("#top-leaked"),
    plans: rows("#plans"), limits: rows("#limits"), inputs: rows("#quality"),
    headings: [...document.querySelectorAll("article.key h3 code")].map(e => e.textContent),
    broken: [...document.querySelectorAll("a[href^='#']")].map(a => a.getAttribute("href").slice(1)).filter(id => !document.getElementById(id)),
    images: document.images.length, scripts: document.scripts.length,
    indexed: note.dataset.indexed, leftOut: note.dataset.leftOut, indexNote: note.textContent,
    searchCount: document.getElementById("count").textContent,
  };
})()`

// num reads a number as the page writes it.
func num(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
	if err != nil {
		t.Errorf("page shows %q where a number belongs", s)
	}
	return v
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestBrowser opens report.html in a real headless chromium, offline, and
// checks it as a reader would: no error of any kind, every chart drawn,
// the numbers those of the model, the search working. It leaves a
// full-page screenshot and an A4 PDF for a person to look at.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	t.Parallel() // mostly waiting for the browser
	start := time.Now()
	out := os.Getenv(envScreenshot)
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// More keys than the index holds, so the page has to say what it left
	// out; -short makes do with fewer (TestWriteIndexCap checks the cut).
	n := html.MaxIndexKeys + 500
	if testing.Short() {
		n = 20_000
	}
	r := synthetic(n, 30, 1)
	r.Index = append(r.Index, html.KeyRow{Key: "k_beyond_the_index", Plan: "free", Requests: 1}) // sorts last: cut, unless -short
	r.Summary.Keys++
	pagePath := filepath.Join(out, "report.html")
	f, err := os.Create(pagePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := html.Write(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tWrite := time.Since(start)

	// One deadline for everything, the browser's start included: a hung
	// browser fails the test rather than the test binary's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)...)
	defer acancel()

	var mu sync.Mutex
	var problems []string
	problem := func(format string, a ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		// Runs in the tab's event loop: record only, send no command.
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problem("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problem("exception: %s", msg)
		case *log.EventEntryAdded: // CSP violations, blocked loads
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problem("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent: // fires even for what the CSP then blocks
			if u := ev.Request.URL; !strings.HasPrefix(u, "file://") {
				problem("request to %s", u)
			}
		case *network.EventLoadingFailed:
			problem("loading failed: %s %s", ev.ErrorText, ev.BlockedReason)
		case *page.EventJavascriptDialogOpening:
			problem("dialog %s: %q", ev.Type, ev.Message)
			cancel() // an open dialog blocks every later command
		}
	}))
	defer bcancel()

	t0 := time.Now()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	tStart := time.Since(t0)
	t0 = time.Now()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate("file://"+pagePath)); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[chromedp.Void](`document.body.dataset.ready === "1"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page's script never became ready (%v); browser problems: %q", err, problems)
	}
	tLoad := time.Since(t0)
	st, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](readDOM))
	if err != nil {
		t.Fatal(err)
	}

	checkFigures(t, r, &st)
	checkNumbers(t, r, &st)
	if st.Images != 0 || st.Scripts != 2 {
		t.Errorf("the page has %d images and %d scripts, want 0 and 2 (a key became markup?)", st.Images, st.Scripts)
	}
	if len(st.Broken) > 0 {
		t.Errorf("links to missing ids: %q", st.Broken)
	}

	// The search, typed as a person would, against the index computed here.
	t0 = time.Now()
	idx := slices.Clone(r.Index)
	slices.SortFunc(idx, html.IndexOrder)
	idx = idx[:min(len(idx), html.MaxIndexKeys)]
	leftOut := r.Summary.Keys - int64(len(idx))
	note := fmt.Sprintf("the other %s are in the keys table only", group(leftOut))
	if st.Indexed != strconv.Itoa(len(idx)) || st.LeftOut != itoa(leftOut) ||
		strings.Contains(st.IndexNote, note) != (leftOut > 0) || strings.Contains(st.IndexNote, "the other") != (leftOut > 0) {
		t.Errorf("index note: %s (indexed %s, left out %s); want %d indexed, %d left out", st.IndexNote, st.Indexed, st.LeftOut, len(idx), leftOut)
	}
	if want := group(int64(len(idx))) + " keys, showing the first 100"; st.SearchCount != want {
		t.Errorf("before any search the count says %q, want %q", st.SearchCount, want)
	}
	for _, q := range []string{"onerror", "pro", "k_0f", "K_0F", "txt.exe", "no such key", "k_beyond"} {
		lq := strings.ToLower(q)
		var want []html.KeyRow
		for _, k := range idx {
			if strings.EqualFold(k.Plan, q) || strings.Contains(strings.ToLower(k.Key), lq) {
				want = append(want, k)
			}
		}
		if err := chromedp.Do(bctx,
			chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = ""; delete document.getElementById("count").dataset.query`),
			chromedp.SendKeys(chromedp.ID("q"), q),
		); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(bctx, chromedp.Poll[[][]string](fmt.Sprintf(
			`document.getElementById("count").dataset.query === %q && [[document.getElementById("count").dataset.total]].concat([...document.querySelectorAll("#results tr")].map(tr => [...tr.cells].map(c => c.textContent)))`, lq),
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		if got[0][0] != strconv.Itoa(len(want)) || len(got)-1 != min(len(want), 100) {
			t.Errorf("search %q: %s matches and %d rows, want %d and %d", q, got[0][0], len(got)-1, len(want), min(len(want), 100))
			continue
		}
		for i, row := range got[1:] {
			k := want[i]
			if row[0] != shown(k.Key) || row[1] != k.Plan || num(t, row[2]) != k.Requests || num(t, row[3]) != k.Excess ||
				num(t, row[4]) != k.Excess-k.Leaked || num(t, row[5]) != k.Leaked || num(t, row[6]) != k.FalseThrottles {
				t.Errorf("search %q row %d: page %q, model %+v", q, i+1, row, k)
				break
			}
		}
	}

	tSearch := time.Since(t0)

	// The screenshot shows a search with a few matches. A full-page capture
	// draws the page at its current scroll position: scrolled down by the
	// typing, sticky parts would land mid-page.
	if err := chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = ""`),
		chromedp.SendKeys(chromedp.ID("q"), "k_000"),
		chromedp.Poll[chromedp.Void](`document.getElementById("count").dataset.query === "k_000"`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	tShot := time.Since(t0)
	if err := os.WriteFile(filepath.Join(out, "report.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	// The print layout (A4, no search box), for a person to look at; -short
	// saves its second or two.
	var pdf []byte
	t0 = time.Now()
	if !testing.Short() {
		if pdf, err = chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFPrintBackground())); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "report.pdf"), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tPDF := time.Since(t0)

	mu.Lock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	mu.Unlock()
	if len(st.Figures) > 0 {
		t.Logf("chart font: %s", st.Figures[0].Font)
	}
	t.Logf("write %v, browser start %v, load until ready %v, searches %v, screenshot %v (%d KB), PDF %v (%d KB), total %v; %s",
		tWrite.Round(time.Millisecond), tStart.Round(time.Millisecond), tLoad.Round(time.Millisecond), tSearch.Round(time.Millisecond),
		tShot.Round(time.Millisecond), len(png)>>10, tPDF.Round(time.Millisecond), len(pdf)>>10,
		time.Since(start).Round(time.Millisecond), filepath.Join(out, "report.png"))
}

// checkFigures: one drawn chart per charted key and limit, in the page's
// order, each with the totals of its model series.
func checkFigures(t *testing.T, r *html.Report, st *pageState) {
	t.Helper()
	type want struct {
		key, limit            string
		requests, ideal, real int64
	}
	var wants []want
	for _, key := range r.ChartKeys() {
		for _, c := range r.Charts[key] {
			w := want{key: key, limit: c.Limit}
			for i := range c.Requests {
				w.requests += c.Requests[i]
				w.ideal += c.Ideal[i]
				w.real += c.Real[i]
			}
			wants = append(wants, w)
		}
	}
	if len(st.Figures) != len(wants) {
		t.Fatalf("%d charts on the page, want %d", len(st.Figures), len(wants))
	}
	for i, w := range wants {
		f := st.Figures[i]
		if f.Key != w.key || f.Limit != w.limit || f.Requests != itoa(w.requests) || f.Ideal != itoa(w.ideal) || f.Real != itoa(w.real) {
			t.Errorf("chart %d (%s): key %q limit %q totals %s/%s/%s, want %q %q %d/%d/%d",
				i+1, f.ID, f.Key, f.Limit, f.Requests, f.Ideal, f.Real, w.key, w.limit, w.requests, w.ideal, w.real)
		}
		for _, n := range []int64{w.requests, w.ideal, w.real} {
			if !strings.Contains(f.Caption, group(n)) {
				t.Errorf("chart %d (%s): caption %q lacks %s", i+1, f.ID, f.Caption, group(n))
			}
		}
		if !f.Visible || f.W < 600 || f.H < 150 || f.BBoxW < 500 || f.BBoxH < 100 || f.Paths < 10 || f.Texts < 8 {
			t.Errorf("chart %d (%s) not drawn: %+v", i+1, f.ID, f)
		}
	}
	var heads []string
	for _, k := range r.ChartKeys() {
		heads = append(heads, shown(k))
	}
	if !slices.Equal(st.Headings, heads) {
		t.Errorf("chart headings %q, want %q", st.Headings, heads)
	}
}

// checkNumbers: the cards and tables show the model's values.
func checkNumbers(t *testing.T, r *html.Report, st *pageState) {
	t.Helper()
	s := r.Summary
	for k, v := range map[string]int64{
		"inputs": int64(len(r.Inputs)), "lines": s.Lines, "requests": s.Requests, "keys": s.Keys, "plans": s.Plans,
		"excess": s.Excess, "caught": s.Caught, "leaked": s.Leaked, "false_throttles": s.FalseThrottles,
		"quality_lines": s.Lines, "malformed": s.Malformed, "keyless": s.Keyless, "invalid_keys": s.InvalidKeys,
		"unplanned_keys": s.UnplannedKeys,
	} {
		if got, ok := st.Cards[k]; !ok || num(t, got) != v {
			t.Errorf("card %s: page %q, model %d", k, got, v)
		}
	}
	for k, v := range map[string]string{
		"from": "2026-11-23 00:00:00Z", "to": "2026-11-23 23:59:59Z", "version": s.Version,
		"policy": s.Policy, "policy_digest": s.PolicyDigest, "key_display": s.KeyDisplay,
	} {
		if st.Cards[k] != v {
			t.Errorf("%s: page %q, model %q", k, st.Cards[k], v)
		}
	}
	if _, ok := st.Cards["generated"]; ok {
		t.Error("the page shows a generation time the model does not have")
	}
	keyTable := func(name string, page [][]string, want []html.KeyRow) {
		if len(page) != len(want) {
			t.Errorf("%s: %d rows, want %d", name, len(page), len(want))
			return
		}
		for i, k := range want {
			p := page[i]
			leakedPct := strconv.FormatFloat(100*float64(k.Leaked)/float64(k.Excess), 'f', 1, 64) + "%"
			if p[0] != strconv.Itoa(i+1) || p[1] != shown(k.Key) || p[2] != k.Plan || num(t, p[3]) != k.Requests ||
				num(t, p[4]) != k.Excess || num(t, p[5]) != k.Caught || num(t, p[6]) != k.Leaked ||
				num(t, p[7]) != k.FalseThrottles || p[8] != leakedPct {
				t.Errorf("%s row %d: page %q, model %+v", name, i+1, p, k)
			}
		}
	}
	keyTable("top by excess", st.TopExcess, r.TopExcess)
	keyTable("top by leaked", st.TopLeaked, r.TopLeaked)
	// table compares rows whose first text columns are text, the rest
	// numbers.
	table := func(name string, page [][]string, want [][]string, text int) {
		if len(page) != len(want) {
			t.Errorf("%s: %d rows, want %d", name, len(page), len(want))
			return
		}
		for i := range want {
			got := slices.Clone(page[i])
			for j := text; j < len(got); j++ {
				got[j] = itoa(num(t, got[j]))
			}
			if !slices.Equal(got, want[i]) {
				t.Errorf("%s row %d: page %q, model %q", name, i+1, page[i], want[i])
			}
		}
	}
	var plans, limits, inputs [][]string
	for _, p := range r.Plans {
		plans = append(plans, []string{p.Plan, itoa(p.Keys), itoa(p.KeysOver), itoa(p.Requests), itoa(p.Excess), itoa(p.Caught), itoa(p.Leaked), itoa(p.FalseThrottles)})
	}
	for _, l := range r.Limits {
		limits = append(limits, []string{l.Plan, l.Limit, l.Definition, itoa(l.KeysOver), itoa(l.Excess), itoa(l.Caught), itoa(l.Leaked)})
	}
	for _, in := range r.Inputs {
		inputs = append(inputs, []string{in.Path, in.Format, itoa(in.Lines), itoa(in.Malformed), itoa(in.Keyless), itoa(in.InvalidKeys)})
	}
	table("plans", st.Plans, plans, 1)
	table("limits", st.Limits, limits, 3)
	table("inputs", st.Inputs, inputs, 2)
}

// group writes v as the page does, 1,234: independent of the package's.
func group(v int64) string {
	s := itoa(v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
