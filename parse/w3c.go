package parse

import "strings"

// W3C parses the W3C extended log file format as IIS, Oracle Web Cache and
// AWS CloudFront write it: "#Fields:" header lines name the columns of the
// data lines that follow, and may change mid-file (IIS starts a new header
// block whenever the service restarts). Columns are separated by spaces
// (runs of them, with optional "quoted" values) or, when a line contains
// a tab, by single tabs (CloudFront). The date and time columns are UTC
// unless a "#GMT-Offset:" header says otherwise; date-local/time-local
// are used when date/time are absent.
//
// The time is when the response was sent (IIS, CloudFront): with a
// time-taken column (IIS: integer milliseconds; CloudFront and the W3C
// draft: seconds with a fraction) records carry the request's arrival,
// the time less time-taken, unless made with TimeLogged.
//
// Header and directive lines yield ErrNoRecord. A W3C value is stateful
// (see Stateful): use a fresh one per file (Format.New does).
type W3C struct {
	cols      []w3cCol
	haveTime  bool
	gmtOffset int64 // ms east of UTC
	// offsetSet says a "#GMT-Offset:" came since the last "#Fields:". A
	// header block without one is UTC: concatenated or appended logs
	// (an Oracle Web Cache log, then an IIS one) must not carry the
	// offset of an earlier block.
	offsetSet bool
	sawFields bool // a "#Fields:" came in the current header block
	logged    bool // TimeLogged: no time-taken subtracted
	slots     roleSlots
	scratch   []byte
	vals      [][]byte
}

type w3cCol struct {
	role  int    // index into roleNames, or -1
	kind  int    // w3cDate, w3cTime, ... or 0
	field string // extra field name when role < 0 and kind == 0
}

const (
	w3cOther = iota
	w3cDate
	w3cTime
	w3cDateLocal
	w3cTimeLocal
	w3cTimeTaken // also kept as a field
)

// NewW3C returns a W3C parser. Every column without a role is kept as a
// Record field (cs(Header) columns as http_header).
func NewW3C() *W3C { return &W3C{} }

func newW3C(o FormatOptions) *W3C { return &W3C{logged: o.Time == TimeLogged} }

var (
	w3cArrivalSource = &TimeSource{Basis: BasisArrival, From: "date time - time-taken"}
	w3cLoggedSource  = &TimeSource{Basis: BasisLogged, From: "date time",
		Advice: "log time-taken (the request's duration) beside date and time"}
)

var zeroText = []byte("0")

var w3cRoles = map[string]string{
	"c-ip": RoleRemoteAddr, "cs-username": RoleUser, "c-auth-id": RoleUser,
	"cs-method": RoleMethod, "cs-uri-stem": RoleURI, "cs-uri": RoleURI, "cs-uri-query": RoleQuery,
	"sc-status": RoleStatus, "sc-bytes": RoleBytes, "bytes": RoleBytes,
	"cs-version": RoleProto, "cs-protocol-version": RoleProto,
	"cs(user-agent)": RoleUserAgent, "cs(referer)": RoleReferer, "cs(referrer)": RoleReferer,
}

// w3cFieldName names a non-role column as a Record field: request headers
// cs(X-Api-Key) become http_x_api_key (as nginx names them), everything
// else its lower-case column name.
func w3cFieldName(col string) string {
	col = strings.ToLower(col)
	if h, ok := strings.CutPrefix(col, "cs("); ok && strings.HasSuffix(h, ")") {
		return "http_" + strings.ReplaceAll(strings.TrimSuffix(h, ")"), "-", "_")
	}
	return col
}

func (p *W3C) header(line []byte) error {
	text := string(line[1:])
	name, val, _ := strings.Cut(text, ":")
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "version", "software", "date", "start-date":
		// Once a block's #Fields came, one of these starts the next
		// block (a restart, an appended log): its offset, if any, is
		// declared anew, wherever among its directives.
		if p.sawFields {
			p.gmtOffset, p.offsetSet, p.sawFields = 0, false, false
		}
	case "fields":
		if !p.offsetSet {
			p.gmtOffset = 0
		}
		p.offsetSet = false
		p.sawFields = true
		p.cols = p.cols[:0]
		p.haveTime = false
		hasDate := false
		for _, f := range strings.Fields(val) {
			c := w3cCol{role: -1}
			lf := strings.ToLower(f)
			switch lf {
			case "date":
				c.kind, hasDate = w3cDate, true
			case "time":
				c.kind = w3cTime
			case "date-local":
				c.kind = w3cDateLocal
			case "time-local":
				c.kind = w3cTimeLocal
			case "time-taken":
				c.kind, c.field = w3cTimeTaken, lf
			default:
				if r, ok := w3cRoles[lf]; ok {
					c.role = roleIndex(r)
				} else {
					c.field = w3cFieldName(f)
				}
			}
			p.cols = append(p.cols, c)
		}
		// Prefer UTC date/time; fall back to the local columns.
		for i := range p.cols {
			switch p.cols[i].kind {
			case w3cDate, w3cTime:
				p.haveTime = true
			case w3cDateLocal, w3cTimeLocal:
				if hasDate {
					name := "date-local"
					if p.cols[i].kind == w3cTimeLocal {
						name = "time-local"
					}
					p.cols[i].kind, p.cols[i].field = w3cOther, name
				} else {
					p.cols[i].kind -= w3cDateLocal - w3cDate
					p.haveTime = true
				}
			}
		}
		if len(p.cols) == 0 {
			return &SyntaxError{Msg: "#Fields header lists no fields"}
		}
	case "gmt-offset":
		off, ok := parseOffset([]byte(strings.TrimSpace(val)))
		if !ok {
			return &SyntaxError{Msg: "bad #GMT-Offset", Text: strings.TrimSpace(val)}
		}
		p.gmtOffset, p.offsetSet = off, true
	}
	return ErrNoRecord
}

// Parse implements LineParser.
func (p *W3C) Parse(line []byte, rec *Record) error {
	rec.Reset()
	if IsDirective(line) {
		return p.header(line)
	}
	if len(p.cols) == 0 {
		return &SyntaxError{Msg: "data line before any #Fields header"}
	}
	if need := 2*len(line) + 2; cap(p.scratch) < need {
		p.scratch = make([]byte, 0, need)
	}
	p.scratch = p.scratch[:0]
	p.vals = p.vals[:0]
	if indexByte(line, '\t') >= 0 {
		for {
			i := indexByte(line, '\t')
			if i < 0 {
				p.vals = append(p.vals, line)
				break
			}
			p.vals = append(p.vals, line[:i])
			line = line[i+1:]
		}
	} else {
		s := scanner{buf: line}
		for !s.done() {
			if s.buf[s.pos] == '"' {
				v, ok := w3cQuoted(&s)
				if !ok {
					return syntaxErr(s.pos, "unterminated quoted value")
				}
				p.vals = append(p.vals, v)
				continue
			}
			v, _ := s.token()
			p.vals = append(p.vals, v)
		}
	}
	if len(p.vals) != len(p.cols) {
		return &SyntaxError{Msg: "line has " + itoa(len(p.vals)) + " values but #Fields lists " + itoa(len(p.cols))}
	}
	p.slots.reset()
	var date, clock, taken []byte
	for i, c := range p.cols {
		v := p.vals[i]
		switch {
		case c.kind == w3cDate:
			date = v
		case c.kind == w3cTime:
			clock = v
		case c.kind == w3cTimeTaken:
			taken = v
			rec.Fields = append(rec.Fields, Field{Name: c.field, Value: v})
		case c.role >= 0:
			p.slots.offer(c.role, 0, v)
		default:
			rec.Fields = append(rec.Fields, Field{Name: c.field, Value: v})
		}
	}
	if !p.haveTime || date == nil || clock == nil {
		return &SyntaxError{Msg: "no date and time columns"}
	}
	ms, sub, frac, ok := parseW3CTime(date, clock)
	if !ok {
		return &SyntaxError{Msg: "bad date/time", Text: string(date) + " " + string(clock)}
	}
	ms -= p.gmtOffset
	src := w3cLoggedSource
	if taken = dashless(taken); !p.logged && len(taken) > 0 {
		dur, ok := parseDuration(taken, millisecond)
		if !ok {
			return &SyntaxError{Msg: "bad time-taken", Text: string(taken)}
		}
		ms, src = subtractDuration(ms, sub, frac, dur), w3cArrivalSource
	}
	// fill needs a time slot; the real time is set right after.
	p.slots.offer(idxTime, 0, zeroText)
	if err := p.slots.fill(rec, &p.scratch); err != nil {
		return err
	}
	rec.TimeMillis, rec.SubSecond, rec.TimeSource = ms, frac, src
	return nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// w3cQuoted reads a "quoted" value in which a quote is escaped by
// doubling it (IIS Advanced Logging); the value is returned as logged.
func w3cQuoted(s *scanner) ([]byte, bool) {
	start := s.pos + 1
	for i := start; i < len(s.buf); i++ {
		if s.buf[i] != '"' {
			continue
		}
		if i+1 < len(s.buf) && s.buf[i+1] == '"' {
			i++
			continue
		}
		s.pos = i + 1
		return s.buf[start:i], true
	}
	return nil, false
}
