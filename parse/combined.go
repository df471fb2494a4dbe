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
// HasRequest false.
//
// The zero Combined is ready to use; NewCombined adds a cache of the last
// timestamp's minute, which most lines share with their predecessor, so
// their time costs a comparison and two digits. A Combined from
// NewCombined must not be used by two goroutines at once.
type Combined struct {
	times *CLFTimeCache
}

// NewCombined returns a Combined parser with a time cache.
func NewCombined() Combined { return Combined{times: &CLFTimeCache{}} }

// Parse implements LineParser.
func (c Combined) Parse(line []byte, rec *Record) error {
	rec.Reset()
	s := scanner{buf: line}
	var ok bool
	if rec.RemoteAddr, ok = s.token(); !ok {
		return syntaxErr(s.pos, "missing remote host")
	}
	if _, ok = s.token(); !ok {
		return syntaxErr(s.pos, "missing ident field")
	}
	if rec.User, ok = s.token(); !ok {
		return syntaxErr(s.pos, "missing user field")
	}
	tb, ok := s.bracketed()
	if !ok {
		return syntaxErr(s.pos, "expected [time]")
	}
	if c.times != nil {
		rec.TimeMillis, ok = c.times.Parse(tb)
	} else {
		rec.TimeMillis, ok = ParseCLFTime(tb)
	}
	if !ok {
		return syntaxErr(s.pos-len(tb)-1, "bad time "+string(tb))
	}
	req, ok := s.quoted()
	if !ok {
		return syntaxErr(s.pos, "expected quoted request")
	}
	splitRequestLine(req, rec)
	st, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing status")
	}
	status, ok := digits(st)
	if !ok || len(st) != 3 {
		return syntaxErr(s.pos-len(st), "bad status "+string(st))
	}
	rec.Status = int(status)
	bt, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing bytes")
	}
	if !isDash(bt) {
		n, ok := digits(bt)
		if !ok {
			return syntaxErr(s.pos-len(bt), "bad byte count "+string(bt))
		}
		rec.Bytes = n
	}
	if s.done() {
		return nil // common log format
	}
	if rec.Referer, ok = s.quoted(); !ok {
		return syntaxErr(s.pos, "expected quoted referer")
	}
	if s.done() {
		return nil
	}
	if rec.UserAgent, ok = s.quoted(); !ok {
		return syntaxErr(s.pos, "expected quoted user agent")
	}
	return nil
}

func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// splitRequestLine fills Method, Target and Proto from an HTTP request line
// "GET /path?q HTTP/1.1". HTTP/0.9 lines have no protocol. Anything else
// (TLS handshakes, "-", empty) leaves HasRequest false.
func splitRequestLine(req []byte, rec *Record) {
	sp1 := indexByte(req, ' ')
	if sp1 <= 0 || !isMethod(req[:sp1]) {
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

// isMethod accepts an HTTP method token: upper-case letters, as every
// registered method is; this rejects binary TLS probes.
func isMethod(b []byte) bool {
	if len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func lastIndexByte(b []byte, c byte) int { return bytes.LastIndexByte(b, c) }

// scanner walks the space-separated fields of a log line.
type scanner struct {
	buf []byte
	pos int
}

func (s *scanner) skipSpaces() {
	for s.pos < len(s.buf) && s.buf[s.pos] == ' ' {
		s.pos++
	}
}

func (s *scanner) done() bool {
	s.skipSpaces()
	return s.pos >= len(s.buf)
}

// token returns the next run of non-space bytes.
func (s *scanner) token() ([]byte, bool) {
	s.skipSpaces()
	start := s.pos
	// Tokens are short (a host, "-", a status): a plain loop beats the
	// set-up cost of bytes.IndexByte here.
	for s.pos < len(s.buf) && s.buf[s.pos] != ' ' {
		s.pos++
	}
	return s.buf[start:s.pos], s.pos > start
}

// bracketed returns the content of the next "[...]" field.
func (s *scanner) bracketed() ([]byte, bool) {
	s.skipSpaces()
	if s.pos >= len(s.buf) || s.buf[s.pos] != '[' {
		return nil, false
	}
	start := s.pos + 1
	for i := start; i < len(s.buf); i++ {
		if s.buf[i] == ']' {
			s.pos = i + 1
			return s.buf[start:i], true
		}
	}
	return nil, false
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
	// Fast path: the next quote ends the field and no backslash precedes
	// it (SIMD scans for both instead of a byte loop).
	if q := bytes.IndexByte(s.buf[start:], '"'); q >= 0 {
		end := start + q
		if (end+1 == len(s.buf) || s.buf[end+1] == ' ') && bytes.IndexByte(s.buf[start:end], '\\') < 0 {
			s.pos = end + 1
			return s.buf[start:end], true
		}
	}
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
