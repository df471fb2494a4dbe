package parse

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Layout is a custom log layout compiled once from an nginx log_format
// string ("$remote_addr - $remote_user [$time_local] ...") or an Apache
// LogFormat string ("%h %l %u %t \"%r\" %>s %b ..."). Parsing walks the
// line once, matching the literal text between variables byte by byte: a
// variable's value ends where the following literal text starts (for a
// variable inside quotes, at a quote that is not backslash-escaped and is
// followed by that text). Known variables fill Record slots; any other
// variable becomes a Record field named after it (nginx: the variable
// name, e.g. "http_x_api_key", "request_time"; Apache: see
// apacheDirective). Text after the last literal is ignored when the
// layout ends in a literal.
//
// Of the layout's times, records carry the request's arrival where the
// layout gives it (Apache's %t, %{begin:...}t) or a duration derives it
// (nginx's $msec - $request_time, Apache's %{end:...}t - %D), the most
// precise such time; otherwise, or with TimeLogged, the most precise time
// as written ($msec before $time_iso8601 and $time_local). The times and
// durations not used are kept as fields like any other variable.
//
// A Layout keeps scratch state and is not safe for concurrent use; Clone
// it per worker.
type Layout struct {
	items   []layoutItem
	slots   roleSlots // its logged and srcs.advice are the layout's
	scratch []byte
}

type layoutItem struct {
	lit []byte     // literal text, or
	v   *layoutVar // a variable
}

type layoutVar struct {
	name   string
	role   int    // roleNames index, or -1
	rank   int    // priority within the role (lower wins)
	field  string // field name when role < 0, or when alsoField
	extent int
	quoted bool // between '"' literals: honour backslash escapes
	trimQ  bool // Apache %q: drop a leading '?'
	// time describes a time or duration variable; choose gives the
	// one used its role (time, start or duration).
	time      *layoutTime
	meta      *timeMeta // the chosen time's or duration's source
	alsoField bool      // a chosen duration stays a field too
}

// layoutTime describes a variable that holds a time or a duration.
type layoutTime struct {
	dur   bool      // a duration (else a time)
	basis TimeBasis // of a time
	ms    bool      // milliseconds or finer (else whole seconds)
	unit  int64     // of a duration written as an integer
}

const (
	extUntilLiteral = iota
	extBracketed    // Apache %t: "[...]"
	extCLFTime      // nginx $time_local: exactly 26 bytes
)

// Clone returns an independent parser with the same compiled layout.
func (l *Layout) Clone() *Layout {
	c := &Layout{items: l.items}
	c.slots.logged, c.slots.srcs.advice = l.slots.logged, l.slots.srcs.advice
	return c
}

// CompileLayout compiles an nginx log_format, Apache LogFormat or Envoy
// access-log format string; which one is decided by the string: '$'
// variables mean nginx, Envoy's %COMMAND% operators (%START_TIME%,
// %REQ(X-Api-Key)%) Envoy, other '%' directives Apache. The layout must
// contain a time variable. Records carry the request's arrival where the
// layout allows (TimeArrival).
func CompileLayout(layout string) (*Layout, error) { return compileLayout(layout, false) }

// compileLayout is CompileLayout; logged is TimeLogged.
func compileLayout(layout string, logged bool) (*Layout, error) {
	nginx := strings.Contains(layout, "$")
	apache := false
	for i := 0; i+1 < len(layout); i++ {
		if layout[i] == '%' && layout[i+1] != '%' {
			apache = true
		}
	}
	var items []layoutItem
	var err error
	switch {
	case envoyCommand().MatchString(layout):
		items, err = compileEnvoy(layout)
	case nginx && !apache:
		items, err = compileNginx(layout)
	case apache && !nginx:
		items, err = compileApache(layout)
	case nginx && apache:
		err = errors.New("mixes nginx $variables and Apache %directives")
	default:
		err = errors.New("no $variable (nginx) or %directive (Apache) in it")
	}
	if err != nil {
		return nil, &ValueError{Kind: ValueLayout, Value: layout, Err: err}
	}
	for i, it := range items {
		if it.v == nil {
			continue
		}
		if i > 0 && items[i-1].v != nil {
			return nil, &ValueError{Kind: ValueLayout, Value: layout,
				Err: errors.New("variables " + items[i-1].v.name + " and " + it.v.name + " must be separated by text")}
		}
		before := i > 0 && strings.HasSuffix(string(items[i-1].lit), `"`)
		after := i+1 < len(items) && strings.HasPrefix(string(items[i+1].lit), `"`)
		it.v.quoted = before && after
	}
	advice, ok := chooseTime(items, logged, nginx)
	if !ok {
		return nil, &ValueError{Kind: ValueLayout, Value: layout,
			Err: errors.New("no time variable ($time_local, $time_iso8601, $msec; %t, %{...}t; %START_TIME%)")}
	}
	l := &Layout{items: items}
	l.slots.logged, l.slots.srcs.advice = logged, advice
	return l, nil
}

// chooseTime gives the time (or start) and duration variables a record's
// time comes from their roles (see Layout), and returns what to log when
// that time is not the arrival; false when the layout has no time.
func chooseTime(items []layoutItem, logged, nginx bool) (string, bool) {
	var times []*layoutVar
	var dur *layoutVar // the most precise duration, the first on a tie
	for _, it := range items {
		switch v := it.v; {
		case v == nil || v.time == nil:
		case v.time.dur:
			if dur == nil || (v.time.ms && !dur.time.ms) {
				dur = v
			}
		default:
			times = append(times, v)
		}
	}
	if len(times) == 0 {
		return "", false
	}
	// score ranks a time: an arrival (given or derived, not with
	// logged) before any other, then milliseconds before seconds, then
	// one given before one derived.
	score := func(v *layoutVar) (s int, derived bool) {
		ms := v.time.ms
		switch {
		case logged:
		case v.time.basis == BasisArrival:
			s += 4
		case dur != nil:
			s, derived, ms = s+4, true, ms && dur.time.ms
		}
		if ms {
			s += 2
		}
		if !derived {
			s++
		}
		return s, derived
	}
	best, bestScore, bestDerived := times[0], -1, false
	for _, v := range times {
		if s, d := score(v); s > bestScore {
			best, bestScore, bestDerived = v, s, d
		}
	}
	best.role, best.meta = idxTime, &timeMeta{name: best.name, basis: best.time.basis}
	if best.time.basis == BasisArrival {
		best.role = idxStart
	}
	if bestDerived {
		dur.role, dur.alsoField, dur.meta = idxDuration, true, &timeMeta{name: dur.name, unit: dur.time.unit}
	}
	switch {
	case best.time.basis == BasisArrival || bestDerived:
		return "", true
	case nginx && best.time.ms:
		return "add $request_time to the log_format: $msec - $request_time is the arrival", true
	case nginx:
		return "add $msec and $request_time to the log_format: $msec - $request_time is the arrival, in milliseconds", true
	}
	return "log %{begin:msec}t, the request's start in milliseconds (or %D beside %{end:msec}t)", true
}

func appendLiteral(items []layoutItem, lit string) []layoutItem {
	if lit == "" {
		return items
	}
	if n := len(items); n > 0 && items[n-1].v == nil {
		items[n-1].lit = append(items[n-1].lit, lit...)
		return items
	}
	return append(items, layoutItem{lit: []byte(lit)})
}

var nginxRoles = map[string][2]int{ // variable → role index, rank
	"remote_addr": {idxRemoteAddr, 0}, "binary_remote_addr": {idxRemoteAddr, 2}, "realip_remote_addr": {idxRemoteAddr, 1},
	"remote_user": {idxUser, 0},
	"request":     {idxRequest, 0}, "request_method": {idxMethod, 0},
	"request_uri": {idxURI, 0}, "uri": {idxURI, 1}, "document_uri": {idxURI, 2},
	"args": {idxQuery, 0}, "query_string": {idxQuery, 1},
	"server_protocol": {idxProto, 0},
	"status":          {idxStatus, 0},
	"body_bytes_sent": {idxBytes, 0}, "bytes_sent": {idxBytes, 1},
	"http_referer": {idxReferer, 0}, "http_user_agent": {idxUserAgent, 0},
}

// nginxTimes are nginx's times, all written when the line is logged, at
// the end of the request, and its duration: $msec - $request_time is the
// request's start (r->start_sec, r->start_msec), exact in milliseconds,
// both read from the same clock.
var nginxTimes = map[string]*layoutTime{
	"msec":         {basis: BasisLogged, ms: true},
	"time_local":   {basis: BasisLogged},
	"time_iso8601": {basis: BasisLogged},
	"request_time": {dur: true, ms: true, unit: second},
}

func compileNginx(layout string) ([]layoutItem, error) {
	var items []layoutItem
	lit := strings.Builder{}
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		j := i + 1
		var name string
		if j < len(layout) && layout[j] == '{' {
			k := strings.IndexByte(layout[j:], '}')
			if k < 0 {
				return nil, errors.New("unterminated ${ at byte " + strconv.Itoa(i))
			}
			name, i = layout[j+1:j+k], j+k
		} else {
			for j < len(layout) && (isAlnum(layout[j]) || layout[j] == '_') {
				j++
			}
			name, i = layout[i+1:j], j-1
		}
		if name == "" {
			lit.WriteByte('$')
			continue
		}
		items = appendLiteral(items, lit.String())
		lit.Reset()
		v := &layoutVar{name: "$" + name, role: -1, field: strings.ToLower(name)}
		if r, ok := nginxRoles[name]; ok {
			v.role, v.rank = r[0], r[1]
		}
		v.time = nginxTimes[name]
		if name == "time_local" {
			v.extent = extCLFTime
		}
		items = append(items, layoutItem{v: v})
	}
	return appendLiteral(items, lit.String()), nil
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func compileApache(layout string) ([]layoutItem, error) {
	var items []layoutItem
	lit := strings.Builder{}
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c == '\\' && i+1 < len(layout) { // as written in httpd.conf: \" \t \n \\
			i++
			switch layout[i] {
			case 't':
				lit.WriteByte('\t')
			case 'n':
				lit.WriteByte('\n')
			default:
				lit.WriteByte(layout[i])
			}
			continue
		}
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		i++
		if i < len(layout) && layout[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		// Modifiers: status conditions (!200,304), < and >.
		final := false // ">": the final request's value, after redirects
		for i < len(layout) && (layout[i] == '<' || layout[i] == '>' || layout[i] == '!' || layout[i] == ',' || isDigit(layout[i])) {
			final = final || layout[i] == '>'
			i++
		}
		var arg string
		if i < len(layout) && layout[i] == '{' {
			k := strings.IndexByte(layout[i:], '}')
			if k < 0 {
				return nil, errors.New("unterminated %{ at byte " + strconv.Itoa(i))
			}
			arg, i = layout[i+1:i+k], i+k+1
		}
		if i >= len(layout) {
			return nil, errors.New("directive % at the end")
		}
		v, err := apacheDirective(layout[i], arg, final)
		if err != nil {
			return nil, err
		}
		items = appendLiteral(items, lit.String())
		lit.Reset()
		items = append(items, layoutItem{v: v})
	}
	return appendLiteral(items, lit.String()), nil
}

// apacheDirective maps one LogFormat directive to a variable. Headers
// %{X-Api-Key}i become the field http_x_api_key (nginx's name for it),
// cookies %{name}C become cookie_name, and other directives fields named
// after their meaning (duration_us, vhost, port, ...).
func apacheDirective(d byte, arg string, final bool) (*layoutVar, error) {
	v := &layoutVar{name: "%" + string(d), role: -1}
	if arg != "" {
		v.name = "%{" + arg + "}" + string(d)
	}
	role := func(idx, rank int) (*layoutVar, error) { v.role, v.rank = idx, rank; return v, nil }
	field := func(name string) (*layoutVar, error) { v.field = name; return v, nil }
	switch d {
	case 'h':
		return role(idxRemoteAddr, 0)
	case 'a':
		if arg == "" {
			return role(idxRemoteAddr, 1)
		}
		return field("client_ip")
	case 'u':
		return role(idxUser, 0)
	case 't':
		return apacheTime(v, arg)
	case 'r':
		return role(idxRequest, 0)
	case 's':
		if final {
			return role(idxStatus, 0) // %>s, the status sent, beats %s
		}
		return role(idxStatus, 1)
	case 'b', 'B':
		return role(idxBytes, 0)
	case 'O':
		return role(idxBytes, 1)
	case 'm':
		return role(idxMethod, 0)
	case 'U':
		return role(idxURI, 1)
	case 'q':
		v.trimQ = true
		return role(idxQuery, 0)
	case 'H':
		return role(idxProto, 0)
	case 'i':
		switch strings.ToLower(arg) {
		case "referer", "referrer":
			return role(idxReferer, 0)
		case "user-agent":
			return role(idxUserAgent, 0)
		case "":
			return nil, errors.New("%i needs a header name, as in %{X-Api-Key}i")
		}
		return field("http_" + strings.ReplaceAll(strings.ToLower(arg), "-", "_"))
	case 'C':
		return field("cookie_" + arg)
	case 'l':
		return field("ident")
	case 'D':
		v.time = &layoutTime{dur: true, ms: true, unit: microsecond}
		return field("duration_us")
	case 'T':
		switch arg {
		case "", "s":
			v.time = &layoutTime{dur: true, unit: second}
		case "ms":
			v.time = &layoutTime{dur: true, ms: true, unit: millisecond}
		case "us":
			v.time = &layoutTime{dur: true, ms: true, unit: microsecond}
		}
		return field("duration_s")
	case 'v':
		return field("vhost")
	case 'V':
		return field("server_name")
	case 'p':
		return field("port")
	case 'I':
		return field("bytes_received")
	case 'S':
		return field("bytes_transferred")
	case 'A':
		return field("local_ip")
	case 'f':
		return field("filename")
	case 'k':
		return field("keepalive_requests")
	case 'L':
		return field("log_id")
	case 'X':
		return field("connection_status")
	case 'P':
		return field("pid")
	case 'R':
		return field("handler")
	}
	if arg != "" { // %{...}e, %{...}n, %{...}o, %{...}x and the like
		return field(strings.ToLower(arg))
	}
	return nil, errors.New("unknown directive %" + string(rune(d)))
}

// apacheTime describes %t and %{FORMAT}t: the time the request was
// received, or with an "end:" prefix the time the line was written.
// FORMAT sec is epoch seconds, msec and usec epoch milliseconds and
// microseconds; any other (strftime) format is read as a time of whole
// seconds. msec_frac and usec_frac, a bare fraction, are plain fields.
func apacheTime(v *layoutVar, arg string) (*layoutVar, error) {
	v.field = "time"
	if arg == "" {
		v.extent = extBracketed
		v.time = &layoutTime{basis: BasisArrival}
		return v, nil
	}
	t := &layoutTime{basis: BasisArrival}
	format := arg
	if f, ok := strings.CutPrefix(arg, "begin:"); ok {
		format = f
	} else if f, ok := strings.CutPrefix(arg, "end:"); ok {
		format, t.basis = f, BasisLogged
	}
	switch format {
	case "msec_frac", "usec_frac":
		v.field = format
		return v, nil
	case "msec", "usec":
		t.ms = true
	}
	v.time = t
	return v, nil
}

// envoyCommand matches an Envoy command operator: %NAME%, %NAME(ARG)%,
// either with a ":N" length limit. Apache's directives are one letter,
// so a layout holding one is Envoy's.
//
// Compiled on first use, so that a process start does not pay for it.
var envoyCommand = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`%[A-Z][A-Z0-9_]*[A-Z0-9](\([^)]*\))?(:[0-9]+)?%`)
})

// envoyRoles maps Envoy command operators (and the request headers of
// %REQ(...)%) to the roles they fill: variable → role index, rank.
var envoyRoles = map[string][2]int{
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": {idxRemoteAddr, 0}, "DOWNSTREAM_REMOTE_ADDRESS": {idxRemoteAddr, 1},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": {idxRemoteAddr, 2}, "DOWNSTREAM_DIRECT_REMOTE_ADDRESS": {idxRemoteAddr, 3},
	"PROTOCOL":      {idxProto, 0},
	"RESPONSE_CODE": {idxStatus, 0},
	"BYTES_SENT":    {idxBytes, 0},
	"REQ(:METHOD)":  {idxMethod, 0}, "REQ(:PATH)": {idxURI, 0},
	"REQ(USER-AGENT)": {idxUserAgent, 0}, "REQ(REFERER)": {idxReferer, 0}, "REQ(REFERRER)": {idxReferer, 0},
}

// envoyFields names the fields of other common Envoy operators as nginx
// would name the same value.
var envoyFields = map[string]string{
	"BYTES_RECEIVED": "bytes_received", "REQ(:AUTHORITY)": "authority",
}

// compileEnvoy compiles an Envoy access-log format string: command
// operators %NAME%, %NAME(ARG)%, with an optional ":N" length limit
// (ignored: the value may be cut, not longer). %START_TIME% is the
// request's arrival, with its default format or one writing ISO 8601 or
// epoch seconds (%START_TIME(%s.%3f)%). %REQ(H)% is request header H (H?G: H, else G),
// %RESP(H)% response header H; the pseudo-headers :METHOD, :PATH (with
// the query) and :AUTHORITY are the method, target and authority. Other
// operators become fields named in lower case ("upstream_host",
// "response_flags"); headers as nginx names them (http_x_api_key,
// sent_http_x_envoy_upstream_service_time).
func compileEnvoy(layout string) ([]layoutItem, error) {
	var items []layoutItem
	rest := layout
	for {
		loc := envoyCommand().FindStringIndex(rest)
		if loc == nil {
			break
		}
		items = appendLiteral(items, rest[:loc[0]])
		op := rest[loc[0]+1 : loc[1]-1]
		if i := strings.LastIndexByte(op, ':'); i > 0 && !strings.Contains(op[i:], ")") {
			op = op[:i] // the length limit
		}
		items = append(items, layoutItem{v: envoyVar(op)})
		rest = rest[loc[1]:]
	}
	return appendLiteral(items, rest), nil
}

// envoyVar is the variable of one Envoy operator, NAME or NAME(ARG).
func envoyVar(op string) *layoutVar {
	v := &layoutVar{name: "%" + op + "%", role: -1}
	name, arg, _ := strings.Cut(strings.TrimSuffix(op, ")"), "(")
	switch name {
	case "START_TIME":
		// The request's start; in milliseconds by default, else as its
		// format writes it (%3f, %6f, %9f, %f: fractions).
		v.field = "start_time"
		v.time = &layoutTime{basis: BasisArrival, ms: arg == "" || strings.Contains(arg, "f")}
		return v
	case "DURATION":
		v.field = "duration_ms"
		v.time = &layoutTime{dur: true, ms: true, unit: millisecond}
		return v
	}
	key := op
	if name == "REQ" {
		// H?G: header H or else G; :PATH among them is the target.
		alts := strings.Split(strings.ToUpper(arg), "?")
		if slices.Contains(alts, ":PATH") {
			key = "REQ(:PATH)"
		} else {
			key = "REQ(" + alts[0] + ")"
		}
		arg = alts[0]
	}
	if r, ok := envoyRoles[key]; ok {
		v.role, v.rank = r[0], r[1]
		return v
	}
	if f, ok := envoyFields[key]; ok {
		v.field = f
		return v
	}
	header := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '.':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, strings.TrimPrefix(arg, ":"))
	switch {
	case name == "REQ":
		v.field = "http_" + header
	case name == "RESP":
		v.field = "sent_http_" + header
	case arg != "":
		v.field = strings.ToLower(name) + "_" + header
	default:
		v.field = strings.ToLower(name)
	}
	return v
}

// Parse implements LineParser.
func (l *Layout) Parse(line []byte, rec *Record) error {
	rec.Reset()
	if need := len(line) + 2; cap(l.scratch) < need {
		l.scratch = make([]byte, 0, need)
	}
	l.scratch = l.scratch[:0]
	l.slots.reset()
	pos := 0
	for i, it := range l.items {
		if it.v == nil {
			if len(line)-pos < len(it.lit) || string(line[pos:pos+len(it.lit)]) != string(it.lit) {
				return syntaxErr(pos, "expected "+quoteText(it.lit))
			}
			pos += len(it.lit)
			continue
		}
		var next []byte
		if i+1 < len(l.items) {
			next = l.items[i+1].lit
		}
		end, ok := l.extent(line, pos, it.v, next)
		if !ok {
			return syntaxErr(pos, "cannot find the end of "+it.v.name)
		}
		val := line[pos:end]
		pos = end
		switch {
		case it.v.role >= 0:
			if it.v.trimQ && len(val) > 0 && val[0] == '?' {
				val = val[1:]
			}
			l.slots.offerFrom(it.v.role, it.v.rank, val, it.v.meta)
			if it.v.alsoField {
				rec.Fields = append(rec.Fields, Field{Name: it.v.field, Value: val})
			}
		default:
			rec.Fields = append(rec.Fields, Field{Name: it.v.field, Value: val})
		}
	}
	if !l.slots.set[idxStatus] && !l.slots.set[idxRequest] && !l.slots.set[idxMethod] && !l.slots.set[idxURI] {
		// A layout without request and status still yields records.
		l.slots.offer(idxStatus, 0, zeroStatus)
	}
	return l.slots.fill(rec, &l.scratch)
}

var zeroStatus = []byte("0")

func (l *Layout) extent(line []byte, pos int, v *layoutVar, next []byte) (int, bool) {
	switch v.extent {
	case extBracketed:
		if pos < len(line) && line[pos] == '[' {
			if j := indexByte(line[pos:], ']'); j >= 0 {
				return pos + j + 1, true
			}
		}
		return 0, false
	case extCLFTime:
		if pos+26 <= len(line) && line[pos+20] == ' ' {
			return pos + 26, true
		}
		// fall back to the literal search ("-" or a shorter time)
	}
	if len(next) == 0 {
		return len(line), true
	}
	if v.quoted {
		// One SIMD scan per quote: a quote ends the value when the
		// literal follows it, unless a backslash escapes it, which only
		// a backslash right before it can do; then the escapes are
		// settled byte by byte.
		for i := pos; ; {
			j := indexByte(line[i:], '"')
			if j < 0 {
				return 0, false
			}
			q := i + j
			if q > pos && line[q-1] == '\\' {
				return quotedEnd(line, pos, next)
			}
			if len(line)-q >= len(next) && string(line[q:q+len(next)]) == string(next) {
				return q, true
			}
			i = q + 1
		}
	}
	if j := indexBytes(line[pos:], next); j >= 0 {
		return pos + j, true
	}
	return 0, false
}

// quotedEnd returns where a quoted value starting at pos ends: at the
// first unescaped quote that next follows.
func quotedEnd(line []byte, pos int, next []byte) (int, bool) {
	for i := pos; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			if len(line)-i >= len(next) && string(line[i:i+len(next)]) == string(next) {
				return i, true
			}
		}
	}
	return 0, false
}

func quoteText(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return strconv.Quote(string(b))
}
