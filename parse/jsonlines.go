package parse

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// JSONLines parses one JSON object per line, as nginx (log_format ...
// escape=json), Caddy and Traefik write access logs. Keys are matched
// case-insensitively against per-role name lists (see defaultRoleNames),
// overridden by the field map; nested objects are addressed with
// dotted paths ("request.uri") and an array stands for its first element
// (Caddy's header lists). A docker-compose prefix ("caddy  | {...}") is
// skipped. Objects with no request and no status (server start-up
// messages) yield ErrNoRecord. Besides JSON's escapes, \xHH is accepted
// in strings: nginx writes it when log_format lacks escape=json.
//
// A JSONLines is not safe for concurrent use: it keeps scratch buffers.
type JSONLines struct {
	table nameTable
	// paths is a quick filter in front of table: paths[c] has bit n&63
	// set when some name in table starts with byte c and is n bytes
	// long. Most leaves of a Caddy or Traefik line are named nowhere,
	// and this check turns them away without hashing their paths.
	paths   [256]uint64
	slots   roleSlots
	path    []byte
	scratch []byte
	rec     *Record
}

// NewJSONLines builds a JSON lines parser. fieldMap is the field map;
// want lists extra field names to keep (KeyExtractor.Fields). Records
// carry the request's arrival where a line gives it (TimeArrival).
func NewJSONLines(fieldMap map[string]string, want []string) *JSONLines {
	return newJSONLines(FormatOptions{Fields: fieldMap, Want: want})
}

// jsonTimeAdvice is what a JSON log whose time is not the arrival lacks.
const jsonTimeAdvice = "log the request's duration beside its time (as nginx's request_time, Caddy's duration, " +
	"Traefik's Duration) or its start (Traefik's StartUTC), or map them to the roles duration and start"

func newJSONLines(o FormatOptions) *JSONLines {
	roles := buildRoleTable(o.Fields, o.Want)
	p := &JSONLines{table: newNameTable(roles)}
	p.slots.logged = o.Time == TimeLogged
	p.slots.srcs.advice = jsonTimeAdvice
	for name := range roles {
		if name != "" {
			p.paths[name[0]] |= 1 << (len(name) & 63)
		}
	}
	return p
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 32

// Parse implements LineParser.
func (p *JSONLines) Parse(line []byte, rec *Record) error {
	rec.Reset()
	if len(line) > 0 && line[0] != '{' {
		if i := indexBytes(line, []byte("| {")); i >= 0 {
			line = line[i+2:]
		}
	}
	// Unescaped strings and a joined target never outgrow the line, so a
	// scratch buffer of twice its size is never reallocated mid-line and
	// slices into it stay valid.
	if need := 2*len(line) + 1; cap(p.scratch) < need {
		p.scratch = make([]byte, 0, need)
	}
	p.scratch = p.scratch[:0]
	p.path = p.path[:0]
	p.slots.reset()
	p.rec = rec
	d := jsonDec{buf: line}
	d.ws()
	if d.pos >= len(line) || line[d.pos] != '{' {
		return syntaxErr(d.pos, "expected a JSON object")
	}
	if err := p.value(&d, 0); err != nil {
		return err
	}
	d.ws()
	if d.pos != len(line) {
		return syntaxErr(d.pos, "trailing data after the JSON object")
	}
	return p.slots.fill(rec, &p.scratch)
}

// value parses one JSON value at the current path.
func (p *JSONLines) value(d *jsonDec, depth int) error {
	if depth > maxJSONDepth {
		return syntaxErr(d.pos, "JSON nested too deeply")
	}
	d.ws()
	if d.pos >= len(d.buf) {
		return syntaxErr(d.pos, "unexpected end of JSON")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		d.pos++
		base := len(p.path)
		d.ws()
		if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
			d.pos++
			return nil
		}
		for {
			d.ws()
			key, err := p.str(d)
			if err != nil {
				return err
			}
			d.ws()
			if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
				return syntaxErr(d.pos, "expected ':' in JSON object")
			}
			d.pos++
			p.path = p.path[:base]
			if base > 0 {
				p.path = append(p.path, '.')
			}
			p.path = append(p.path, key...)
			lowerASCII(p.path[len(p.path)-len(key):])
			if err := p.value(d, depth+1); err != nil {
				return err
			}
			d.ws()
			if d.pos < len(d.buf) && d.buf[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
				d.pos++
				p.path = p.path[:base]
				return nil
			}
			return syntaxErr(d.pos, "expected ',' or '}' in JSON object")
		}
	case c == '[':
		d.pos++
		d.ws()
		if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
			d.pos++
			return nil
		}
		base := len(p.path)
		for i := 0; ; i++ {
			if i > 0 {
				// Only the first element is addressable: park the path
				// where no name matches.
				p.path = append(p.path[:base], "[]"...)
			}
			if err := p.value(d, depth+1); err != nil {
				return err
			}
			p.path = p.path[:base]
			d.ws()
			if d.pos < len(d.buf) && d.buf[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
				d.pos++
				return nil
			}
			return syntaxErr(d.pos, "expected ',' or ']' in JSON array")
		}
	case c == '"':
		v, err := p.str(d)
		if err != nil {
			return err
		}
		p.leaf(v)
		return nil
	default:
		start := d.pos
		for d.pos < len(d.buf) {
			c := d.buf[d.pos]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' {
				break
			}
			d.pos++
		}
		v := d.buf[start:d.pos]
		if len(v) == 0 {
			return syntaxErr(d.pos, "expected a JSON value")
		}
		if string(v) == "null" {
			return nil
		}
		if string(v) != "true" && string(v) != "false" && !isJSONNumber(v) {
			return syntaxErrText(start, "bad JSON value", v)
		}
		p.leaf(v)
		return nil
	}
}

func (p *JSONLines) leaf(v []byte) {
	if path := p.path; len(path) > 0 && p.paths[path[0]]&(1<<(len(path)&63)) == 0 {
		return
	}
	t := p.table.find(p.path)
	if t == nil {
		return
	}
	if t.field != "" {
		if p.rec.Field(t.field) == nil {
			p.rec.Fields = append(p.rec.Fields, Field{Name: t.field, Value: v})
		}
		return
	}
	p.slots.offerFrom(t.idx, t.rank, v, t.meta)
}

// str reads a JSON string, a key or a value; escapes are decoded into the
// scratch buffer (the raw bytes are returned when there are none), so an
// escaped key matches its plain name too.
func (p *JSONLines) str(d *jsonDec) ([]byte, error) {
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		return nil, syntaxErr(d.pos, "expected a JSON string")
	}
	start := d.pos + 1
	// Eight bytes at a time to the first quote or backslash: a quote
	// ends the string, a backslash sends it to the escape-aware loop.
	// (A byte loop cost more on values, two SIMD scans, for the quote and
	// then for a backslash, more on keys.)
	i := start
	for ; i+8 <= len(d.buf); i += 8 {
		w := binary.LittleEndian.Uint64(d.buf[i:])
		if m := hasByte(w, '"') | hasByte(w, '\\'); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			if d.buf[i] == '"' {
				d.pos = i + 1
				return d.buf[start:i], nil
			}
			return p.strSlow(d, start)
		}
	}
	for ; i < len(d.buf); i++ {
		switch d.buf[i] {
		case '"':
			d.pos = i + 1
			return d.buf[start:i], nil
		case '\\':
			return p.strSlow(d, start)
		}
	}
	return p.strSlow(d, start)
}

// hasByte sets the high bit of the bytes of w that equal c, and maybe of
// bytes above the first such byte (the zero-byte test's borrow): only the
// lowest flag is exact, and it marks the first occurrence.
func hasByte(w uint64, c byte) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := w ^ (ones * uint64(c))
	return (x - ones) &^ x & highs
}

// strSlow reads the string starting at start (after its quote) that holds
// a backslash, or runs to the end of the line.
func (p *JSONLines) strSlow(d *jsonDec, start int) ([]byte, error) {
	escaped := false
	for i := start; i < len(d.buf); i++ {
		switch d.buf[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			d.pos = i + 1
			raw := d.buf[start:i]
			if !escaped {
				return raw, nil
			}
			return p.unescape(raw, start)
		}
	}
	return nil, syntaxErr(start-1, "unterminated JSON string")
}

func (p *JSONLines) unescape(raw []byte, off int) ([]byte, error) {
	begin := len(p.scratch)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			p.scratch = append(p.scratch, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, syntaxErr(off+i, "bad JSON escape")
		}
		switch raw[i] {
		case '"', '\\', '/':
			p.scratch = append(p.scratch, raw[i])
		case 'b':
			p.scratch = append(p.scratch, '\b')
		case 'f':
			p.scratch = append(p.scratch, '\f')
		case 'n':
			p.scratch = append(p.scratch, '\n')
		case 'r':
			p.scratch = append(p.scratch, '\r')
		case 't':
			p.scratch = append(p.scratch, '\t')
		case 'x':
			// nginx without escape=json writes \xHH, which is not JSON
			// but is what many real "JSON" access logs contain.
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return nil, syntaxErr(off+i, "bad \\x escape")
			}
			p.scratch = append(p.scratch, unhex(raw[i+1])<<4|unhex(raw[i+2]))
			i += 2
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return nil, syntaxErr(off+i, "bad JSON \\u escape")
			}
			i += 4
			if 0xD800 <= r && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw[i+3:]); ok && 0xDC00 <= lo && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
		default:
			return nil, syntaxErr(off+i, "bad JSON escape")
		}
	}
	return p.scratch[begin:len(p.scratch):len(p.scratch)], nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

func isJSONNumber(v []byte) bool {
	seenDigit := false
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
		case c == '-' || c == '+':
			if i != 0 && v[i-1] != 'e' && v[i-1] != 'E' {
				return false
			}
		case c == '.' || c == 'e' || c == 'E':
		default:
			return false
		}
	}
	return seenDigit
}

// lowerASCII lower-cases b's ASCII letters in place.
func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

type jsonDec struct {
	buf []byte
	pos int
}

func (d *jsonDec) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

func indexBytes(b, sep []byte) int { return bytes.Index(b, sep) }
