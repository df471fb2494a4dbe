package parse

import "bytes"

// Combined parses the Apache/nginx combined log format and, since its last
// two fields are optional, the common log format too:
//
//	host ident user [time] "request" status bytes ["referer" "user-agent"]
//
// Anything after the user agent (nginx adds fields such as
// "$http_x_forwarded_for") is ignored. The request field may hold anything:
// a line whose request is not an HTTP request line is valid, with
// HasRequest false. An unquoted "-" stands for an empty referer or user
// agent.
//
// The host part is everything before ident and user: nginx behind proxies
// logs a comma-separated address list there ("10.0.0.2, 10.0.0.1 - -"),
// and a leading virtual host ("vhost host - -", Apache vhost_combined) is
// recognised when the first word is not part of such a list; it becomes
// the "vhost" field.
//
// The time's basis is unknown (clfTimeSource): Apache's %t is the
// request's arrival, nginx's $time_local the time the line was written.
//
// The zero Combined is ready to use; NewCombined adds a cache of the last
// timestamp's minute, which most lines share with their predecessor, so
// their time costs a comparison and two digits. A Combined from
// NewCombined must not be used by two goroutines at once.
type Combined struct {
	times *CLFTimeCache
	src   *TimeSource // nil: clfTimeSource
}

// NewCombined returns a Combined parser with a time cache.
func NewCombined() Combined { return Combined{times: &CLFTimeCache{}} }

// newApacheCombined reads a log only Apache writes (vhost_combined),
// whose time is %t, the request's arrival.
func newApacheCombined() Combined {
	return Combined{times: &CLFTimeCache{}, src: apacheCLFTimeSource}
}

// maxPrefixTokens bounds the words before "[time]" (vhost, an address
// list, ident, user), so a line without a bracket fails fast.
const maxPrefixTokens = 16

// Parse implements LineParser.
func (c Combined) Parse(line []byte, rec *Record) error {
	rec.Reset()
	rec.TimeSource = c.src
	if c.src == nil {
		rec.TimeSource = clfTimeSource
	}
	_, err := parseCLF(line, rec, false, false, c.times)
	return err
}

// VhostCombined parses Apache's vhost_combined ("%v:%p %h %l %u %t ...");
// the first word is always the virtual host.
type VhostCombined struct{}

// Parse implements LineParser.
func (VhostCombined) Parse(line []byte, rec *Record) error {
	rec.Reset()
	rec.TimeSource = apacheCLFTimeSource
	_, err := parseCLF(line, rec, true, false, nil)
	return err
}

// Common parses the Common Log Format strictly: nothing may follow the
// byte count. (Combined reads common lines too; Common exists so that
// format detection can tell the two apart.)
type Common struct{}

// Parse implements LineParser.
func (Common) Parse(line []byte, rec *Record) error {
	rec.Reset()
	rec.TimeSource = clfTimeSource
	end, err := parseCLF(line, rec, false, true, nil)
	if err != nil {
		return err
	}
	s := scanner{buf: line, pos: end}
	if !s.done() || len(rec.Fields) > 0 {
		return &SyntaxError{Msg: "fields after the byte count (not common log format)"}
	}
	return nil
}

// parseCLF parses a CLF-family line and returns where parsing stopped:
// after the user agent, or, with common, right after the byte count. It
// is one function with a local scanner so the hot path keeps the scanner
// in registers.
func parseCLF(line []byte, rec *Record, vhost, common bool, times *CLFTimeCache) (int, error) {
	s := scanner{buf: line}
	fast := false
	if !vhost {
		// Fast path: exactly "host ident user [".
		var ok1, ok2, ok3 bool
		rec.RemoteAddr, ok1 = s.token()
		var ident []byte
		ident, ok2 = s.token()
		rec.User, ok3 = s.token()
		fast = ok1 && ok2 && ok3 && s.pos+1 < len(line) && line[s.pos] == ' ' && line[s.pos+1] == '[' &&
			rec.RemoteAddr[0] != '[' && ident[0] != '[' && rec.User[0] != '['
	}
	if !fast {
		pos, err := clfPrefix(line, rec, vhost)
		if err != nil {
			return 0, err
		}
		s.pos = pos
	}
	// Fast path: a valid CLF time is 26 bytes, so where the byte after
	// them is "]" and they parse, they hold no "]" and are the bracketed
	// field; no search for its end is needed. Anything else takes the
	// general path, which finds the same field and error.
	s.skipSpaces()
	ok := false
	if p := s.pos; times != nil && p+27 < len(line) && line[p] == '[' && line[p+27] == ']' {
		if rec.TimeMillis, ok = times.Parse(line[p+1 : p+27]); ok {
			s.pos = p + 28
		}
	}
	if !ok {
		tb, ok := s.bracketed()
		if !ok {
			return 0, syntaxErr(s.pos, "expected [time]")
		}
		if times != nil {
			rec.TimeMillis, ok = times.Parse(tb)
		} else {
			rec.TimeMillis, ok = ParseCLFTime(tb)
		}
		if !ok {
			return 0, syntaxErrText(s.pos-len(tb)-1, "bad time", tb)
		}
	}
	req, ok := s.quoted()
	if !ok {
		return 0, syntaxErr(s.pos, "expected quoted request")
	}
	splitRequestLine(req, rec)
	st, ok := s.token()
	if !ok {
		return 0, syntaxErr(s.pos, "missing status")
	}
	status, ok := digits(st)
	if !ok || len(st) != 3 {
		return 0, syntaxErrText(s.pos-len(st), "bad status", st)
	}
	rec.Status = int(status)
	bt, ok := s.token()
	if !ok {
		return 0, syntaxErr(s.pos, "missing bytes")
	}
	if !isDash(bt) {
		n, ok := digits(bt)
		if !ok {
			return 0, syntaxErrText(s.pos-len(bt), "bad byte count", bt)
		}
		rec.Bytes = n
	}
	if common || s.done() {
		return s.pos, nil // common log format
	}
	// A bare "-" stands for an empty referer or user agent; the check is
	// inline to keep the common quoted case a single call.
	if s.bareDash() {
		s.pos++
	} else if rec.Referer, ok = s.quoted(); !ok {
		return 0, syntaxErr(s.pos, "expected quoted referer")
	}
	if s.done() {
		return s.pos, nil
	}
	if s.bareDash() {
		s.pos++
	} else if rec.UserAgent, ok = s.quoted(); !ok {
		return 0, syntaxErr(s.pos, "expected quoted user agent")
	}
	return s.pos, nil
}

// clfPrefix reads the general host part before "[time]": any number of
// words (an address list, a virtual host) followed by ident and user. It
// fills RemoteAddr, User and the vhost field and returns the position of
// the "[".
func clfPrefix(line []byte, rec *Record, vhost bool) (int, error) {
	s := scanner{buf: line}
	// Remember where the first word starts and the spans of the last
	// three (host end, ident, user).
	var starts, ends [3]int
	n, first, firstEnd := 0, -1, -1
	for {
		s.skipSpaces()
		if s.pos >= len(line) {
			return 0, syntaxErr(s.pos, "expected [time]")
		}
		if line[s.pos] == '[' {
			break
		}
		if n == maxPrefixTokens {
			return 0, syntaxErr(s.pos, "expected [time]")
		}
		start := s.pos
		s.token()
		if first < 0 {
			first, firstEnd = start, s.pos
		}
		starts[0], starts[1], starts[2] = starts[1], starts[2], start
		ends[0], ends[1], ends[2] = ends[1], ends[2], s.pos
		n++
	}
	if n < 3 || (vhost && n < 4) {
		return 0, syntaxErr(s.pos, "expected host, ident and user before [time]")
	}
	if vhost && line[firstEnd-1] == ',' {
		// "10.0.0.2, 10.0.0.1 - -": an address list (combined), not a
		// virtual host; format detection would otherwise call such a
		// log vhost_combined.
		return 0, syntaxErr(first, "expected a virtual host, not an address list")
	}
	rec.User = line[starts[2]:ends[2]]
	host := line[first:ends[0]]
	if n > 3 && (vhost || (line[firstEnd-1] != ',' && line[first] != '"')) {
		rec.Fields = append(rec.Fields, Field{Name: "vhost", Value: line[first:firstEnd]})
		host = line[firstEnd:ends[0]]
		for len(host) > 0 && host[0] == ' ' {
			host = host[1:]
		}
	}
	rec.RemoteAddr = host
	return s.pos, nil
}

func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// splitRequestLine fills Method, Target and Proto from an HTTP request line
// "GET /path?q HTTP/1.1". HTTP/0.9 lines have no protocol. Anything else
// (TLS handshakes, "-", empty) leaves HasRequest false.
func splitRequestLine(req []byte, rec *Record) {
	// The method: upper-case letters (as every registered method is;
	// this rejects binary TLS probes), at most maxMethodBytes of them,
	// up to the first space. One loop both finds the space and checks
	// the letters.
	sp1 := 0
	for ; sp1 < len(req) && req[sp1] != ' '; sp1++ {
		if c := req[sp1]; c < 'A' || c > 'Z' || sp1 == maxMethodBytes {
			return
		}
	}
	if sp1 == 0 || sp1 == len(req) {
		return
	}
	rest := req[sp1+1:]
	target := rest
	var proto []byte
	if sp2 := lastIndexByte(rest, ' '); sp2 >= 0 {
		target, proto = rest[:sp2], rest[sp2+1:]
	}
	if len(target) == 0 {
		return
	}
	rec.Method, rec.Target, rec.Proto = req[:sp1], target, proto
	rec.HasRequest = true
}

// maxMethodBytes bounds an HTTP method token's length.
const maxMethodBytes = 20

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func lastIndexByte(b []byte, c byte) int { return bytes.LastIndexByte(b, c) }

// scanner walks the space-separated fields of a log line.
type scanner struct {
	buf []byte
	pos int
}

// The scanner's methods work on local copies of buf and pos: parseCLF
// passes its scanner to non-inlined methods, so it lives in memory, and
// a loop over s.pos would load and store it at every byte.

func (s *scanner) skipSpaces() {
	buf, pos := s.buf, s.pos
	for pos < len(buf) && buf[pos] == ' ' {
		pos++
	}
	s.pos = pos
}

func (s *scanner) done() bool {
	s.skipSpaces()
	return s.pos >= len(s.buf)
}

// token returns the next run of non-space bytes.
func (s *scanner) token() ([]byte, bool) {
	buf, pos := s.buf, s.pos
	for pos < len(buf) && buf[pos] == ' ' {
		pos++
	}
	start := pos
	// Tokens are short (a host, "-", a status): a plain loop beats the
	// set-up cost of bytes.IndexByte here.
	for pos < len(buf) && buf[pos] != ' ' {
		pos++
	}
	s.pos = pos
	return buf[start:pos], pos > start
}

// bracketed returns the content of the next "[...]" field.
func (s *scanner) bracketed() ([]byte, bool) {
	s.skipSpaces()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '[' {
		return nil, false
	}
	start := s.pos + 1
	if i := bytes.IndexByte(s.buf[start:], ']'); i >= 0 {
		s.pos = start + i + 1
		return s.buf[start : start+i], true
	}
	return nil, false
}

// bareDash reports whether the scanner (past spaces, as done() leaves
// it) is at an unquoted "-" field.
func (s *scanner) bareDash() bool {
	return s.pos < len(s.buf) && s.buf[s.pos] == '-' && (s.pos+1 == len(s.buf) || s.buf[s.pos+1] == ' ')
}

// quoted returns the content of the next double-quoted field, honouring
// backslash escapes (Apache and nginx write \" and \\ inside quotes). The
// content is returned still escaped: keys are read from the query, where
// an escaped quote cannot occur unencoded in a valid URL.
func (s *scanner) quoted() ([]byte, bool) {
	s.skipSpaces()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '"' {
		return nil, false
	}
	start := s.pos + 1
	// A quoted "-", the usual referer of an API call, needs no search.
	if b := s.buf; start+1 < len(b) && b[start] == '-' && b[start+1] == '"' && (start+2 == len(b) || b[start+2] == ' ') {
		s.pos = start + 2
		return b[start : start+1], true
	}
	// Fast path: the first quote (found by a SIMD scan) ends the field
	// when a field boundary follows and no backslash is right before it.
	// A backslash elsewhere does not matter: an escape covers only the
	// byte after it, so only one right before the quote could escape it.
	if q := bytes.IndexByte(s.buf[start:], '"'); q >= 0 {
		end := start + q
		if (end+1 == len(s.buf) || s.buf[end+1] == ' ') && (q == 0 || s.buf[end-1] != '\\') {
			s.pos = end + 1
			return s.buf[start:end], true
		}
	}
	return s.escapedQuoted(start)
}

// escapedQuoted is quoted's general case: the field starting at start,
// read byte by byte.
func (s *scanner) escapedQuoted(start int) ([]byte, bool) {
	for i := start; i < len(s.buf); i++ {
		switch s.buf[i] {
		case '\\':
			i++ // skip the escaped byte
		case '"':
			// A quote ends the field only where a field boundary follows;
			// some servers log a bare quote inside the user agent.
			if i+1 == len(s.buf) || s.buf[i+1] == ' ' {
				s.pos = i + 1
				return s.buf[start:i], true
			}
		}
	}
	return nil, false
}
