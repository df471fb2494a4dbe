package parse

import (
	"bytes"
	"errors"
	"strings"
)

// FormatOptions configure the built-in formats.
type FormatOptions struct {
	// Fields is the field map (role → source name, see ParseFieldMap)
	// for JSON and columnar inputs.
	Fields map[string]string
	// Want lists extra Record fields the key sources read
	// (KeyExtractor.Fields), so formats that must choose what to keep
	// (JSON) keep them.
	Want []string
	// LogFormat is a layout (nginx log_format or Apache LogFormat
	// syntax, see CompileLayout).
	LogFormat string
	// Time is which of a line's times records carry: TimeArrival (the
	// default, also "") or TimeLogged.
	Time string
}

// Format is a log format: a name (as recorded in the manifest) and a
// constructor for a fresh parser. Parsers of stateful formats (W3C) must
// not be shared between files; New is cheap enough to call per file.
type Format struct {
	Name string
	New  func() LineParser
}

// Format names. "auto" is not a format but a request to detect one.
const (
	FormatAuto    = "auto"
	FormatParquet = "parquet"
	FormatLayout  = "log-format"
)

// builtin describes one built-in line format.
type builtin struct {
	name     string
	help     string
	new      func(o FormatOptions) LineParser
	fallback bool // detected only when no other format matches
}

// Built-in layouts written as LogFormat strings.
const (
	apacheSSLRequestLayout = `%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b`
	looseCLFLayout         = `$remote_addr [$time_local] "$request" $status `
	// Envoy's default access log format (and Istio's before 1.x), in
	// Envoy's own syntax.
	envoyLayout = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ` +
		`%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ` +
		`%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ` +
		`"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"`
)

func mustLayout(s string) *Layout {
	l, err := CompileLayout(s)
	if err != nil {
		panic(err)
	}
	return l
}

var (
	sslRequestLayout = mustLayout(apacheSSLRequestLayout)
	looseLayout      = mustLayout(looseCLFLayout)
	envoyDefault     = mustLayout(envoyLayout)
)

// builtins in detection order: on a tie in how many sample lines parse,
// the earlier (more specific) format wins.
var builtins = []builtin{
	{"w3c", "W3C extended / IIS (with #Fields: headers)", func(o FormatOptions) LineParser { return newW3C(o) }, false},
	{"cloudfront", "AWS CloudFront standard log (tab-separated, #Fields: header)", func(o FormatOptions) LineParser { return newW3C(o) }, false},
	{"json", "JSON lines: nginx escape=json, Caddy, Traefik (see --field)", func(o FormatOptions) LineParser { return newJSONLines(o) }, false},
	{"alb", "AWS Application Load Balancer", func(o FormatOptions) LineParser { return ALB{LoggedTime: o.Time == TimeLogged} }, false},
	{"haproxy", "HAProxy HTTP log (option httplog), syslog prefix optional", func(FormatOptions) LineParser { return HAProxy{} }, false},
	{"envoy", "Envoy's default access log ([%START_TIME%] \"%REQ(:METHOD)% ...)", func(FormatOptions) LineParser { return envoyDefault.Clone() }, false},
	// Detection tries the strict Common parser; reading uses Combined,
	// which reads common lines identically and combined ones as well.
	{"common", "Common Log Format (CLF)", func(FormatOptions) LineParser { return Common{} }, false},
	{"vhost_combined", "Apache vhost_combined (virtual host first)", func(FormatOptions) LineParser { return VhostCombined{} }, false},
	{"combined", "Apache/nginx combined (also reads common, vhost prefixes, X-Forwarded-For lists)", func(FormatOptions) LineParser { return NewCombined() }, false},
	{"apache_ssl_request", "Apache mod_ssl ssl_request_log: " + apacheSSLRequestLayout, func(FormatOptions) LineParser { return sslRequestLayout.Clone() }, false},
	{"clf_loose", "fallback: host [time] \"request\" status ... (no ident/user; bytes not read)", func(FormatOptions) LineParser { return looseLayout.Clone() }, true},
}

// FormatHelp lists the format names, for a flag's help text.
func FormatHelp() string {
	var names []string
	for _, b := range builtins {
		names = append(names, b.name)
	}
	return "auto (default), " + strings.Join(names, ", ") + ", parquet"
}

// LookupFormat returns the named line format. A layout (o.LogFormat)
// makes the format "log-format". "auto" and "parquet" are
// handled by the caller (the pipeline) and rejected here.
func LookupFormat(name string, o FormatOptions) (Format, error) {
	if err := CheckTimeChoice(o.Time); err != nil {
		return Format{}, err
	}
	if o.LogFormat != "" {
		l, err := compileLayout(o.LogFormat, o.Time == TimeLogged)
		if err != nil {
			return Format{}, err
		}
		return Format{Name: FormatLayout, New: func() LineParser { return l.Clone() }}, nil
	}
	name = strings.ToLower(name)
	if name == "common" {
		return Format{Name: name, New: func() LineParser { return NewCombined() }}, nil
	}
	for _, b := range builtins {
		if b.name == name {
			return Format{Name: b.name, New: func() LineParser { return b.new(o) }}, nil
		}
	}
	return Format{}, &ValueError{Kind: ValueFormat, Value: name, Err: errors.New("unknown format (want " + FormatHelp() + ")")}
}

// Detection samples at most this many non-blank lines.
const detectLines = 200

// DetectBytes is how much of a file's start detection looks at (after
// its empty lines): readers pass at least this much to Detect, or the
// first line whole when it is longer.
const DetectBytes = 64 << 10

// ErrTarArchive is the error for an input that is a tar archive (after
// decompression: a .tar.gz is one too): read as a log, its files' text
// would run together as one log with header blocks for lines.
var ErrTarArchive = errors.New("a tar archive, not a log")

// IsTar reports whether head starts with a tar header block: the ustar
// magic (POSIX or GNU) at offset 257, or a pre-POSIX header, and a
// checksum that adds up, so that no log line can pass for one.
func IsTar(head []byte) bool {
	const block = 512
	if len(head) < block {
		return false
	}
	h := head[:block]
	magic := string(h[257:265])
	if magic != "ustar\x0000" && magic != "ustar  \x00" && bytes.Count(h[257:block], []byte{0}) != block-257 {
		return false
	}
	// The checksum field: octal digits, ended by a NUL or a space.
	field := bytes.TrimLeft(h[148:156], " ")
	end := bytes.IndexAny(field, "\x00 ")
	if end <= 0 {
		return false
	}
	var want int64
	for _, c := range field[:end] {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	var sum int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// IsParquet reports whether head starts with the Parquet magic bytes.
func IsParquet(head []byte) bool { return bytes.HasPrefix(head, []byte("PAR1")) }

// Detector picks the format of files one after another. An archive's
// files usually share their format: it tries the last file's format
// first, and stops trying a format as soon as it can no longer win. The
// answer is always a fresh Detector's; only the work differs (with every
// format tried on every sampled line, detection cost more than parsing a
// small file). A Detector is not safe for concurrent use.
type Detector struct {
	last int // builtins index + 1 of the last format detected; 0: none
}

// Detect picks the built-in format that parses most of the first lines
// of head (the decompressed start of a file; atEOF says whether it holds
// the whole file, else its last partial line is ignored), the earliest
// in the list of formats on a tie. W3C and CloudFront need their #Fields
// header, so a file must start with its header lines to be detected as
// such. It fails with an *UndetectedError when no format parses at least
// half of the sampled lines that hold records.
func (d *Detector) Detect(head []byte, atEOF bool, o FormatOptions) (Format, error) {
	lines := sampleLines(head, atEOF)
	if len(lines) == 0 {
		return Format{}, &UndetectedError{HeadBytes: len(head)}
	}
	// A "#Fields:" header settles it: the file is W3C, even if its data
	// lines then turn out malformed (they are reported one by one).
	if lines[0][0] == '#' {
		for _, l := range lines {
			if bytes.HasPrefix(l, []byte("#Fields:")) {
				name := "w3c"
				if isCloudFrontHeader(lines) {
					name = "cloudfront"
				}
				return LookupFormat(name, FormatOptions{Fields: o.Fields, Want: o.Want, Time: o.Time})
			}
		}
	}
	c := contest{lines: lines, best: -1}
	first := d.last - 1 // tried first: it then sets the bar for the rest
	if first >= 0 && (!candidate(first) || builtins[first].fallback) {
		first = -1
	}
	if first >= 0 {
		c.try(first, o)
	}
	for i, b := range builtins {
		// The fallback is tried only when no other format qualified.
		if i != first && candidate(i) && !(b.fallback && c.best >= 0) {
			c.try(i, o)
		}
	}
	if c.best < 0 {
		return Format{}, &UndetectedError{HeadBytes: len(head), FirstLine: clip(lines[0], 200)}
	}
	d.last = c.best + 1
	name := builtins[c.best].name
	if name == "vhost_combined" {
		// The strict parsers only tell the layouts apart; the file is read
		// with Combined, which reads vhost, common and combined lines
		// alike, so a file whose later lines change layout (Apache logs
		// mix them when configs change) is not read as malformed.
		return Format{Name: name, New: func() LineParser { return newApacheCombined() }}, nil
	}
	return LookupFormat(name, FormatOptions{Fields: o.Fields, Want: o.Want, Time: o.Time})
}

// candidate reports whether builtins[i] is tried on sampled lines (W3C
// and CloudFront are recognised by their header instead).
func candidate(i int) bool { return builtins[i].name != "w3c" && builtins[i].name != "cloudfront" }

// contest is one detection: the winner so far among the formats tried
// on the sampled lines. A format wins with more lines parsed than any
// other (the earlier in builtins on a tie), provided it parses at least
// as many as it fails (lines that hold no record count for neither).
type contest struct {
	lines  [][]byte
	best   int // builtins index, -1: none yet
	bestOK int
	rec    Record
}

// try parses the sampled lines with builtins[i], stopping as soon as the
// format can no longer win, whatever the remaining lines hold.
func (c *contest) try(i int, o FormatOptions) {
	need := max(c.bestOK+1, 1) // lines it must parse to win
	if c.best >= 0 && i < c.best {
		need = c.bestOK // it wins a tie
	}
	p := builtins[i].new(o)
	ok, bad := 0, 0
	for j, l := range c.lines {
		if left := len(c.lines) - j; ok+left < need || bad > ok+left {
			return
		}
		switch err := p.Parse(l, &c.rec); {
		case err == nil:
			ok++
		case err == ErrNoRecord:
		default:
			bad++
		}
	}
	if ok >= need && ok >= bad {
		c.best, c.bestOK = i, ok
	}
}

func isCloudFrontHeader(lines [][]byte) bool {
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("#Fields:")) {
			return bytes.Contains(l, []byte("x-edge-location")) || bytes.Contains(l, []byte("x-edge-request-id"))
		}
	}
	return false
}

// sampleLines returns the first non-blank lines of head as the parse
// workers see them (see NextLine and TrimPadding: a W3C log's first "#"
// is then at its start, whatever hole precedes it). Unless atEOF, head's
// last line may be cut short: it is left out.
func sampleLines(head []byte, atEOF bool) [][]byte {
	if !atEOF {
		head = head[:bytes.LastIndexByte(head, '\n')+1]
	}
	var out [][]byte
	for len(head) > 0 && len(out) < detectLines {
		var l []byte
		l, head = NextLine(head)
		if l = TrimPadding(l); len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
