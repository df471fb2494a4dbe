package parse

import "bytes"

// ALB parses AWS Application Load Balancer access logs:
//
//	type time elb client:port target:port request_processing_time
//	target_processing_time response_processing_time elb_status_code
//	target_status_code received_bytes sent_bytes "request" "user_agent" ...
//
// ... ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//
//	"chosen_cert_arn" matched_rule_priority request_creation_time ...
//
// The first 14 fields and request_creation_time are read; ALB appends
// fields over time and they are ignored. Status is elb_status_code (what
// the client got), bytes is sent_bytes. The time is request_creation_time,
// when the load balancer received the request, unless LoggedTime is set
// or a line lacks it (entries before 2018): then it is the first field,
// when the response was sent. Both keep millisecond precision. The
// request target is logged as an absolute URL; Target holds its origin
// form ("/path?query") and the "scheme://host:port" part becomes the
// "authority" field.
type ALB struct {
	// LoggedTime reads the time field even where request_creation_time
	// is logged (TimeLogged).
	LoggedTime bool
}

// Parse implements LineParser.
func (a ALB) Parse(line []byte, rec *Record) error {
	rec.Reset()
	s := scanner{buf: line}
	typ, ok := s.token()
	if !ok || !albType(typ) {
		return syntaxErr(0, "expected an ALB request type (http, https, h2, ws, wss, grpcs)")
	}
	tb, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing time")
	}
	tpos := s.pos - len(tb)
	if _, ok = s.token(); !ok { // elb
		return syntaxErr(s.pos, "missing elb")
	}
	client, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing client:port")
	}
	rec.RemoteAddr = dashless(stripPort(client))
	for range 4 { // target:port and three processing times
		if _, ok = s.token(); !ok {
			return syntaxErr(s.pos, "missing processing times")
		}
	}
	st, ok := s.token()
	status, ok2 := digits(st)
	if !ok || !ok2 || len(st) != 3 {
		return syntaxErrText(s.pos-len(st), "bad elb_status_code", st)
	}
	rec.Status = int(status)
	if _, ok = s.token(); !ok { // target_status_code
		return syntaxErr(s.pos, "missing target_status_code")
	}
	if _, ok = s.token(); !ok { // received_bytes
		return syntaxErr(s.pos, "missing received_bytes")
	}
	bt, ok := s.token()
	if !ok {
		return syntaxErr(s.pos, "missing sent_bytes")
	}
	if !isDash(bt) {
		n, ok := digits(bt)
		if !ok {
			return syntaxErrText(s.pos-len(bt), "bad sent_bytes", bt)
		}
		rec.Bytes = n
	}
	req, ok := s.quoted()
	if !ok {
		return syntaxErr(s.pos, "expected quoted request")
	}
	splitRequestLine(req, rec)
	originForm(rec)
	if ua, ok := s.quoted(); ok {
		rec.UserAgent = dashless(ua)
		if !a.LoggedTime && albArrival(&s, rec) {
			return nil
		}
	}
	// The time the response was sent, parsed only when it is the one
	// used: the line lacks request_creation_time, or LoggedTime.
	var frac bool
	if rec.TimeMillis, frac, ok = ParseISO8601(tb); !ok {
		return syntaxErrText(tpos, "bad time", tb)
	}
	rec.SubSecond, rec.TimeSource = frac, albLoggedSource
	return nil
}

// albArrival reads request_creation_time, eight fields after the user
// agent, into rec and reports whether the line has it.
func albArrival(s *scanner, rec *Record) bool {
	for i := range 7 {
		if i >= 3 && i <= 5 { // "trace_id" "domain_name" "chosen_cert_arn"
			if _, ok := s.quoted(); !ok {
				return false
			}
			continue
		}
		// ssl_cipher ssl_protocol target_group_arn matched_rule_priority:
		// the ARN is long, so one SIMD scan to the next space.
		s.skipSpaces()
		j := bytes.IndexByte(s.buf[s.pos:], ' ')
		if j <= 0 {
			return false
		}
		s.pos += j
	}
	s.skipSpaces()
	tb := s.buf[s.pos:]
	if j := bytes.IndexByte(tb, ' '); j >= 0 {
		tb = tb[:j]
	}
	ms, frac, ok := ParseISO8601(tb)
	if ok {
		rec.TimeMillis, rec.SubSecond, rec.TimeSource = ms, frac, albArrivalSource
	}
	return ok
}

func albType(t []byte) bool {
	switch string(t) {
	case "http", "https", "h2", "ws", "wss", "grpcs":
		return true
	}
	return false
}

// stripPort removes a trailing ":port" from "ip:port" (IPv6 addresses
// are logged unbracketed, so the port is after the last colon).
func stripPort(b []byte) []byte {
	if i := lastIndexByte(b, ':'); i > 0 {
		if _, ok := digits(b[i+1:]); ok {
			return b[:i]
		}
	}
	return b
}

// originForm turns an absolute-form target ("https://host:443/p?q") into
// origin form ("/p?q"), keeping "https://host:443" as the authority field.
func originForm(rec *Record) {
	t := rec.Target
	var rest []byte
	switch {
	case hasPrefixFold(t, "http://"):
		rest = t[7:]
	case hasPrefixFold(t, "https://"):
		rest = t[8:]
	case hasPrefixFold(t, "ws://"):
		rest = t[5:]
	case hasPrefixFold(t, "wss://"):
		rest = t[6:]
	default:
		return
	}
	slash := indexByte(rest, '/')
	if q := indexByte(rest, '?'); q >= 0 && (slash < 0 || q < slash) {
		slash = q
	}
	authEnd := len(t) - len(rest)
	if slash < 0 {
		authEnd += len(rest)
		rec.Target = t[len(t):]
	} else {
		authEnd += slash
		rec.Target = t[authEnd:]
	}
	rec.Fields = append(rec.Fields, Field{Name: "authority", Value: t[:authEnd]})
	if len(rec.Target) == 0 {
		rec.Target = slashTarget
	}
}

var slashTarget = []byte("/")

func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if b[i]|0x20 != prefix[i] && b[i] != prefix[i] {
			return false
		}
	}
	return true
}
