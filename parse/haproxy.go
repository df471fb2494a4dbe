package parse

// HAProxy parses HAProxy's HTTP log format ("option httplog"), with or
// without a syslog prefix:
//
//	[Mmm dd hh:mm:ss host haproxy[pid]: ]client:port [dd/Mmm/yyyy:hh:mm:ss.mmm]
//	frontend backend/server [extra...] TR/Tw/Tc/Tr/Ta status bytes
//	req_cookie resp_cookie term_state conns queues [{req hdrs}] [{resp hdrs}]
//	"request"
//
// The accept date (local time of the HAProxy host, written without an
// offset) is taken as UTC, with its milliseconds; it is when the request
// (or its connection) arrived, though the line is written at the end. Words between the
// server and the timers (custom formats that add the host) are skipped
// and kept as the "host" field when there is one. Lines that are not
// HTTP request logs (start-up notices, "SSL handshake failure", TCP-mode
// logs) yield ErrNoRecord. Captured header blocks become the fields
// "captured_request_headers" and "captured_response_headers".
type HAProxy struct{}

// Parse implements LineParser.
func (HAProxy) Parse(line []byte, rec *Record) error {
	rec.Reset()
	// Find the accept date: "[" two digits "/".
	at := -1
	for i := 0; i+3 < len(line); i++ {
		if line[i] == '[' && isDigit(line[i+1]) && isDigit(line[i+2]) && line[i+3] == '/' {
			at = i
			break
		}
	}
	if at < 0 {
		if indexBytes(line, []byte("haproxy[")) >= 0 || indexBytes(line, []byte("haproxy:")) >= 0 {
			return ErrNoRecord
		}
		return syntaxErr(0, "expected client:port [accept date]")
	}
	// The client is the word before the date.
	end := at
	for end > 0 && line[end-1] == ' ' {
		end--
	}
	start := end
	for start > 0 && line[start-1] != ' ' {
		start--
	}
	if start == end {
		return syntaxErr(at, "missing client:port before the accept date")
	}
	client := stripPort(line[start:end])
	rec.RemoteAddr = dashless(client)
	s := scanner{buf: line, pos: at}
	tb, ok := s.bracketed()
	if !ok {
		return syntaxErr(at, "expected [accept date]")
	}
	var frac bool
	if rec.TimeMillis, frac, ok = ParseCLFTimeFrac(tb); !ok {
		return syntaxErrText(at+1, "bad accept date", tb)
	}
	rec.SubSecond, rec.TimeSource = frac, haproxyTimeSource
	frontend, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing frontend")
	}
	if frontend[len(frontend)-1] == ':' {
		// "frontend/bind: SSL handshake failure" and other connection
		// errors: no request.
		return ErrNoRecord
	}
	// backend/server, optional extra words, then the five timers.
	var timers []byte
	var extra []byte
	for i := 0; i < 4; i++ {
		t, ok := s.token()
		if !ok {
			break
		}
		if i > 0 && isTimers(t, 5) {
			timers = t
			break
		}
		if i > 0 && isTimers(t, 3) {
			return ErrNoRecord // a TCP-mode log: Tw/Tc/Tt, no request
		}
		if i == 1 {
			extra = t
		}
	}
	if timers == nil {
		// Not a line HAProxy writes (a combined log's line has a client
		// and an accept date too): counted as malformed, never skipped.
		return syntaxErr(s.pos, "expected the timers TR/Tw/Tc/Tr/Ta of an HTTP log")
	}
	if extra != nil {
		rec.Fields = append(rec.Fields, Field{Name: "host", Value: extra})
	}
	st, ok := s.token()
	status, isNum := digits(st)
	switch {
	case ok && isNum && len(st) == 3:
		rec.Status = int(status)
	case ok && string(st) == "-1":
		// No response was sent (the client aborted): status 0.
	default:
		return syntaxErrText(s.pos-len(st), "bad status", st)
	}
	bt, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing bytes")
	}
	if len(bt) > 1 && bt[0] == '+' {
		bt = bt[1:] // "option logasap": the bytes sent so far
	}
	n, ok := digits(bt)
	if !ok {
		return syntaxErrText(s.pos-len(bt), "bad byte count", bt)
	}
	rec.Bytes = n
	// Skip words and {header} blocks up to the quoted request, which is
	// the last field (HAProxy may truncate it, dropping the final quote).
	hdr := 0
	for {
		s.skipSpaces()
		if s.pos >= len(line) {
			return syntaxErr(s.pos, "missing quoted request")
		}
		switch line[s.pos] {
		case '{':
			closeAt := indexByte(line[s.pos:], '}')
			if closeAt < 0 {
				return syntaxErr(s.pos, "unterminated {captured headers}")
			}
			v := line[s.pos+1 : s.pos+closeAt]
			name := "captured_request_headers"
			if hdr > 0 {
				name = "captured_response_headers"
			}
			rec.Fields = append(rec.Fields, Field{Name: name, Value: v})
			hdr++
			s.pos += closeAt + 1
			continue
		case '"':
			req := line[s.pos+1:]
			if n := len(req); n > 0 && req[n-1] == '"' {
				req = req[:n-1]
			}
			splitRequestLine(req, rec)
			originForm(rec)
			return nil
		}
		s.token()
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTimers reports whether t is n slash-separated timers, each a number
// optionally signed ("-1" for a step that did not happen, "+" under
// option logasap): five for an HTTP log, three for a TCP one.
func isTimers(t []byte, n int) bool {
	parts := 1
	digitsIn := 0
	for i, c := range t {
		switch {
		case c == '/':
			if digitsIn == 0 {
				return false
			}
			parts++
			digitsIn = 0
		case isDigit(c):
			digitsIn++
		case c == '-' || c == '+':
			if i > 0 && t[i-1] != '/' {
				return false
			}
		default:
			return false
		}
	}
	return parts == n && digitsIn > 0
}
