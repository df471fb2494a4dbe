package parse

import (
	"encoding/binary"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DefaultKeySources are the default key sources: the query parameters
// API providers most often use for keys.
var DefaultKeySources = []string{"query:api_key", "query:apikey", "query:key"}

// keySource finds raw (still encoded) key candidates in a record and
// appends them to dst in priority order; an empty candidate means none.
// Most sources yield one; queryParams yields one per parameter name.
type keySource interface {
	find(rec *Record, dst [][]byte) [][]byte
}

// queryParams reads query-string parameters of the request target. The
// key sources of consecutive query:NAME specs share one, so the query is
// scanned once rather than once per name (the default key sources name three
// parameters, and a request carrying the last one would otherwise be
// scanned three times). Each name yields its first non-empty value.
type queryParams struct{ names []queryName }

// queryName is a query parameter's name. Names of up to 7 bytes (most
// are: key, apikey, api_key) also keep "NAME=" as a word and a mask, so
// that a pair of 8 bytes or more is matched with one load and compare
// rather than a call comparing byte strings.
type queryName struct {
	name       []byte
	head, mask uint64 // "NAME=" little endian and its bytes; mask 0: too long
}

func newQueryName(name string) queryName {
	q := queryName{name: []byte(name)}
	if n := len(name); n+1 <= 8 {
		var b [8]byte
		copy(b[:], name+"=")
		q.head = binary.LittleEndian.Uint64(b[:])
		q.mask = 1<<(8*(n+1)) - 1
	}
	return q
}

// value returns the value of pair ("NAME=value") if it holds the
// name and a non-empty value, and nil otherwise.
func (q *queryName) value(pair []byte) []byte {
	n := len(q.name)
	if len(pair) <= n+1 {
		return nil
	}
	if q.mask != 0 && len(pair) >= 8 {
		if binary.LittleEndian.Uint64(pair)&q.mask != q.head {
			return nil
		}
	} else if pair[n] != '=' || string(pair[:n]) != string(q.name) {
		return nil
	}
	return pair[n+1:]
}

func (q queryParams) find(rec *Record, dst [][]byte) [][]byte {
	base := len(dst)
	for range q.names {
		dst = append(dst, nil)
	}
	q.values(rec.Query(), dst[base:])
	return dst
}

// values sets vals[j] (nil on entry) to the first non-empty value of
// q.names[j] in query.
func (q *queryParams) values(query []byte, vals [][]byte) {
	missing := len(q.names)
	for len(query) > 0 && missing > 0 {
		pair := query
		if i := indexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = nil
		}
		for j := range q.names {
			if vals[j] != nil {
				continue
			}
			if v := q.names[j].value(pair); v != nil {
				vals[j] = v
				missing--
				break
			}
		}
	}
}

// maxQueryOnly bounds the names of a KeyExtractor's query fast path,
// whose candidates live in an array on the stack.
const maxQueryOnly = 8

// recordField reads a named Record field (a logged header, a JSON key,
// a layout's variable).
type recordField struct{ name string }

func (f recordField) find(rec *Record, dst [][]byte) [][]byte {
	return append(dst, dashless(rec.Field(f.name)))
}

// roleValue reads one of the record's roles.
type roleValue func(rec *Record) []byte

func (r roleValue) find(rec *Record, dst [][]byte) [][]byte { return append(dst, dashless(r(rec))) }

// fieldOrRole reads a named field that formats usually fill a role from
// (remote_addr, c-ip, request.client_ip, ClientHost, ...): the field if
// the format kept it as one, else the role.
type fieldOrRole struct {
	field recordField
	role  roleValue
}

func (f fieldOrRole) find(rec *Record, dst [][]byte) [][]byte {
	if v := dashless(rec.Field(f.field.name)); len(v) > 0 {
		return append(dst, v)
	}
	return f.role.find(rec, dst)
}

// roleReaders read the roles a key could be logged in.
var roleReaders = map[string]roleValue{
	RoleRemoteAddr: func(rec *Record) []byte { return rec.RemoteAddr },
	RoleUser:       func(rec *Record) []byte { return rec.User },
	RoleMethod:     func(rec *Record) []byte { return rec.Method },
	RoleProto:      func(rec *Record) []byte { return rec.Proto },
	RoleReferer:    func(rec *Record) []byte { return rec.Referer },
	RoleUserAgent:  func(rec *Record) []byte { return rec.UserAgent },
}

// fieldSource reads the record field name, or, where formats fill a role
// from a source of that name (defaultRoleNames, or the role's own name
// as a layout's variable spells it), the field if the format kept
// one and else the role.
func fieldSource(name string) keySource {
	for _, role := range roleNames { // in a fixed order
		read, ok := roleReaders[role]
		if !ok {
			continue
		}
		if strings.EqualFold(role, name) || slices.ContainsFunc(defaultRoleNames[role], func(n string) bool { return strings.EqualFold(n, name) }) {
			return fieldOrRole{recordField{name}, read}
		}
	}
	return recordField{name: name}
}

// cookie reads one cookie, from a field the layout logged it in
// ($cookie_NAME, %{NAME}C) or from a logged Cookie header.
type cookie struct {
	name  []byte
	field string // "cookie_" + name
}

func (c cookie) find(rec *Record, dst [][]byte) [][]byte { return append(dst, c.value(rec)) }

func (c cookie) value(rec *Record) []byte {
	if v := dashless(rec.Field(c.field)); len(v) > 0 {
		return v
	}
	h := rec.Field("http_cookie")
	for len(h) > 0 {
		pair := h
		if i := indexByte(h, ';'); i >= 0 {
			pair, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		for len(pair) > 0 && (pair[0] == ' ' || pair[0] == '+') { // IIS logs spaces as '+'
			pair = pair[1:]
		}
		if len(pair) > len(c.name) && pair[len(c.name)] == '=' && string(pair[:len(c.name)]) == string(c.name) {
			return pair[len(c.name)+1:]
		}
	}
	return nil
}

// pathTemplate captures {key} from the request path: "/v1/keys/{key}/*"
// matches /v1/keys/abc/usage and /v1/keys/abc/x/y; without a trailing
// "*" the segment counts must be equal.
type pathTemplate struct {
	segs   []string // literal segments, "" at the {key} position
	keyAt  int
	prefix bool // ends in "*"
}

func (t pathTemplate) find(rec *Record, dst [][]byte) [][]byte { return append(dst, t.key(rec)) }

func (t pathTemplate) key(rec *Record) []byte {
	p := rec.Path()
	if len(p) == 0 || p[0] != '/' {
		return nil
	}
	rest, more := p[1:], true
	var key []byte
	for i, seg := range t.segs {
		if !more {
			return nil // fewer segments than the template
		}
		cur := rest
		if j := indexByte(rest, '/'); j >= 0 {
			cur, rest = rest[:j], rest[j+1:]
		} else {
			rest, more = nil, false
		}
		if i == t.keyAt {
			key = cur
		} else if string(cur) != seg {
			return nil
		}
	}
	if more && len(rest) > 0 && !t.prefix {
		return nil // more segments than the template
	}
	return key
}

func compilePathTemplate(spec, tmpl string) (keySource, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, keySourceError(spec, "a path template starts with '/', as in path:/v1/keys/{key}/*")
	}
	t := pathTemplate{keyAt: -1}
	parts := strings.Split(tmpl[1:], "/")
	if n := len(parts); n > 0 && parts[n-1] == "*" {
		t.prefix, parts = true, parts[:n-1]
	}
	for i, p := range parts {
		switch {
		case p == "{key}":
			if t.keyAt >= 0 {
				return nil, keySourceError(spec, "{key} appears twice")
			}
			t.keyAt = i
			p = ""
		case strings.ContainsAny(p, "{}*"):
			return nil, keySourceError(spec, "segment "+strconv.Quote(p)+": only whole-segment {key} and a final * are supported")
		}
		t.segs = append(t.segs, p)
	}
	if t.keyAt < 0 {
		return nil, keySourceError(spec, "the template has no {key} segment")
	}
	return t, nil
}

// HeaderField is the Record field name under which formats store a
// logged request header: nginx's spelling, "http_" + lower case with '_'
// for '-' (X-Api-Key → http_x_api_key).
func HeaderField(name string) string {
	return "http_" + strings.ReplaceAll(strings.ToLower(name), "-", "_")
}

// MaxKeyBytes bounds a key's length, decoded. A longer value is not a
// key but an invalid one (counted, never a failure): no API issues keys
// of 64 KiB, and every stage after parsing holds keys whole; spilled runs
// refuse keys over their format's limit (aggregate.MaxKeyBytes, 1 MiB),
// which must stay above this one.
const MaxKeyBytes = 64 << 10

// KeyExtractor applies an ordered list of key sources to a record; the
// first non-empty value that is a key (at most MaxKeyBytes long, and
// matching the key pattern when one is set) wins and is URL-decoded.
type KeyExtractor struct {
	sources []keySource
	fields  []string
	pattern *regexp.Regexp
	cands   [][]byte // the current source's candidates
	// query is the only source when that is query parameters (as the
	// default sources are), of at most maxQueryOnly names: Extract then
	// reads them without an interface call or candidates on the heap.
	query    *queryParams
	buf      []byte
	rejected bool
}

// NewKeyExtractor compiles key source specs such as "query:api_key".
func NewKeyExtractor(specs []string) (*KeyExtractor, error) {
	if len(specs) == 0 {
		return nil, errors.New("no key source given")
	}
	k := &KeyExtractor{}
	for _, spec := range specs {
		src, err := compileKeySource(spec)
		if err != nil {
			return nil, err
		}
		if q, ok := src.(queryParams); ok && len(k.sources) > 0 {
			if prev, ok := k.sources[len(k.sources)-1].(queryParams); ok {
				prev.names = append(prev.names, q.names...)
				k.sources[len(k.sources)-1] = prev
				continue
			}
		}
		k.sources = append(k.sources, src)
		switch s := src.(type) {
		case recordField:
			k.fields = append(k.fields, s.name)
		case cookie:
			k.fields = append(k.fields, s.field, "http_cookie")
		}
	}
	k.setQueryOnly()
	return k, nil
}

func (k *KeyExtractor) setQueryOnly() {
	if len(k.sources) == 1 {
		if q, ok := k.sources[0].(queryParams); ok && len(q.names) <= maxQueryOnly {
			k.query = &q
		}
	}
}

// Clone returns an extractor with k's compiled sources and pattern and
// scratch space of its own, for another goroutine.
func (k *KeyExtractor) Clone() *KeyExtractor {
	return &KeyExtractor{sources: k.sources, fields: k.fields, pattern: k.pattern, query: k.query}
}

// SetPattern makes Extract accept only decoded values that match re in
// full (see CompileKeyPattern); other values are rejected and counted by the
// caller as invalid keys. A nil re accepts everything.
func (k *KeyExtractor) SetPattern(re *regexp.Regexp) { k.pattern = re }

// CompileKeyPattern compiles a key pattern, anchored at both ends.
func CompileKeyPattern(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, &ValueError{Kind: ValueKeyPattern, Value: expr, Err: err}
	}
	return re, nil
}

// Fields lists the Record fields the key sources read, so formats that
// keep only wanted fields (JSON) keep them.
func (k *KeyExtractor) Fields() []string { return k.fields }

func compileKeySource(spec string) (keySource, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch strings.ToLower(kind) {
	case "query":
		if arg == "" {
			return nil, keySourceError(spec, "query needs a parameter name, as in query:api_key")
		}
		return queryParams{names: []queryName{newQueryName(arg)}}, nil
	case "header":
		if arg == "" {
			return nil, keySourceError(spec, "header needs a header name, as in header:X-Api-Key")
		}
		// Formats keep some headers in the record's roles, not as http_
		// fields (the user agent and referer: W3C cs(User-Agent), JSON
		// request.headers, ...).
		return fieldSource(HeaderField(arg)), nil
	case "field":
		if arg == "" {
			return nil, keySourceError(spec, "field needs a field name, as in field:api_key")
		}
		return fieldSource(strings.ToLower(arg)), nil
	case "cookie":
		if arg == "" {
			return nil, keySourceError(spec, "cookie needs a cookie name, as in cookie:session")
		}
		return cookie{name: []byte(arg), field: "cookie_" + strings.ToLower(arg)}, nil
	case "user":
		if arg != "" {
			return nil, keySourceError(spec, "user takes no argument")
		}
		// The authenticated user: CLF's third field, basic auth.
		return roleReaders[RoleUser], nil
	case "path":
		return compilePathTemplate(spec, arg)
	}
	return nil, keySourceError(spec, "unknown kind "+strconv.Quote(kind)+" (want query:NAME, header:NAME, user, path:/TEMPLATE/{key}, field:NAME or cookie:NAME)")
}

// Extract returns the decoded key of rec, or nil when no source yields
// one. The result may alias rec's line or the extractor's scratch
// buffer: it is valid until the next call to Extract and while rec's line
// is unchanged; callers must not modify it. After a nil
// result, Rejected says whether some source had a value that the key
// pattern or MaxKeyBytes rejected (an invalid key rather than a keyless
// request).
func (k *KeyExtractor) Extract(rec *Record) []byte {
	k.rejected = false
	if q := k.query; q != nil {
		var vals [maxQueryOnly][]byte
		q.values(rec.Query(), vals[:len(q.names)])
		for _, raw := range vals[:len(q.names)] {
			if key := k.accept(raw); key != nil {
				return key
			}
		}
		return nil
	}
	for _, src := range k.sources {
		k.cands = src.find(rec, k.cands[:0])
		for _, raw := range k.cands {
			if key := k.accept(raw); key != nil {
				return key
			}
		}
	}
	return nil
}

// accept returns the decoded key of a raw candidate, or nil when it is
// empty (decoded or not) or rejected by MaxKeyBytes or the key pattern;
// it sets k.rejected as Rejected documents.
func (k *KeyExtractor) accept(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	key := raw
	if needsUnescape(raw) {
		// Most keys are plain tokens: only an escaped one is
		// decoded into (and returned from) the scratch buffer.
		k.buf = appendUnescaped(k.buf[:0], raw)
		if key = k.buf; len(key) == 0 {
			return nil
		}
	}
	if len(key) > MaxKeyBytes || k.pattern != nil && !k.pattern.Match(key) {
		k.rejected = true
		return nil
	}
	k.rejected = false
	return key
}

// needsUnescape reports whether s holds a '+' or a %-escape to decode.
// It reads 8 bytes at a time: a word has a byte equal to c exactly when
// the word XOR c in every byte has a zero byte, which (w-ones)&^w&highs
// detects.
func needsUnescape(s []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		p, q := w^('%'*ones), w^('+'*ones)
		if ((p-ones)&^p|(q-ones)&^q)&highs != 0 {
			return true
		}
	}
	for _, c := range s[i:] {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// Rejected reports whether the last Extract found only values that the
// key pattern or the length limit rejected.
func (k *KeyExtractor) Rejected() bool { return k.rejected }

// appendUnescaped appends the URL-decoded form of s ('+' is a space,
// %XX a byte) to dst. A malformed escape is kept literally rather than
// rejected: the key still identifies the caller.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// keySourceError rejects the key source spec.
func keySourceError(spec, msg string) error {
	return &ValueError{Kind: ValueKeySource, Value: spec, Err: errors.New(msg)}
}
