package parse

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// Roles are the Record slots a named column (a JSON key, a Parquet
// column, a W3C field) can fill. A field map (ParseFieldMap) maps a
// source name to a role for the formats whose columns are named.
const (
	RoleTime       = "time"
	RoleRemoteAddr = "remote_addr"
	RoleUser       = "user"
	RoleMethod     = "method"
	RoleURI        = "uri"     // request target: path plus optional ?query
	RoleQuery      = "query"   // query string without '?', when logged apart from the path
	RoleRequest    = "request" // a whole request line "GET /x HTTP/1.1"
	RoleProto      = "proto"
	RoleStatus     = "status"
	RoleBytes      = "bytes"
	RoleReferer    = "referer"
	RoleUserAgent  = "user_agent"
	// RoleStart is the request's start (its arrival), for formats that
	// log it beside or instead of the time the line was written.
	RoleStart = "start"
	// RoleDuration is how long the request took: subtracted from the
	// time (when no start is logged) it gives the arrival.
	RoleDuration = "duration"
)

var roleNames = []string{RoleTime, RoleRemoteAddr, RoleUser, RoleMethod, RoleURI, RoleQuery,
	RoleRequest, RoleProto, RoleStatus, RoleBytes, RoleReferer, RoleUserAgent, RoleStart, RoleDuration}

// ParseFieldMap parses field mappings "ROLE=NAME[,ROLE=NAME...]" into a
// role → source name map. Names keep their spelling; matching against JSON
// keys and Parquet columns is case-insensitive.
func ParseFieldMap(specs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, spec := range specs {
		for _, kv := range strings.Split(spec, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			role, name, ok := strings.Cut(kv, "=")
			role, name = strings.ToLower(strings.TrimSpace(role)), strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, &ValueError{Kind: ValueFieldMap, Value: kv, Err: errors.New("want ROLE=NAME, as in time=ts")}
			}
			if !isRole(role) {
				return nil, &ValueError{Kind: ValueFieldMap, Value: kv,
					Err: errors.New("unknown role " + strconv.Quote(role) + " (want one of " + strings.Join(roleNames, ", ") + ")")}
			}
			m[role] = name
		}
	}
	return m, nil
}

func isRole(r string) bool {
	for _, n := range roleNames {
		if n == r {
			return true
		}
	}
	return false
}

// defaultRoleNames lists, per role and in priority order, the names that
// common JSON loggers use (nginx escape=json variables, Caddy, Traefik,
// the fields AWS API Gateway's console proposes for its access logs) and
// that CloudFront/ALB Parquet exports use. Nested JSON keys are dotted
// paths. Matching is case-insensitive. The time and start roles share
// one order, timeNames.
var defaultRoleNames = map[string][]string{
	RoleRemoteAddr: {"remote_addr", "request.client_ip", "request.remote_ip", "ClientHost", "client_ip",
		"remote_ip", "c_ip", "c-ip", "client", "ip", "sourceIp", "identity.sourceIp"},
	RoleUser:      {"remote_user", "user_id", "ClientUsername", "cs_username", "user"},
	RoleMethod:    {"request_method", "request.method", "RequestMethod", "cs_method", "cs-method", "request_verb", "method", "httpMethod"},
	RoleURI:       {"request_uri", "request.uri", "RequestPath", "cs_uri_stem", "request_url", "uri", "path", "url", "resourcePath"},
	RoleQuery:     {"args", "query_string", "cs_uri_query", "cs-uri-query"},
	RoleRequest:   {"request", "RequestLine", "request_line"},
	RoleProto:     {"server_protocol", "request.proto", "RequestProtocol", "protocol", "proto", "cs_protocol_version", "request_proto"},
	RoleStatus:    {"status", "DownstreamStatus", "sc_status", "sc-status", "elb_status_code", "status_code"},
	RoleBytes:     {"body_bytes_sent", "bytes_sent", "size", "DownstreamContentSize", "sc_bytes", "sc-bytes", "sent_bytes", "bytes", "responseLength"},
	RoleReferer:   {"http_referer", "request.headers.Referer", "request_Referer", "referer", "referrer", "cs_referer", "cs_referrer", "http_referrer"},
	RoleUserAgent: {"http_user_agent", "request.headers.User-Agent", "request_User-Agent", "user_agent", "cs_user_agent", "useragent"},
	// Traefik's Duration and Caddy's duration (an integer: nanoseconds;
	// with a point: seconds), nginx's request_time (seconds), CloudFront
	// and IIS time-taken (an integer: milliseconds).
	RoleDuration: {"request_time", "duration", "time_taken", "time-taken"},
}

// timeNames are the default names of the time and start roles, in one
// priority order: with TimeLogged the first present wins, whichever role
// it fills; with TimeArrival a start wins over any time. $msec comes
// before the other nginx times: it has milliseconds.
var timeNames = []struct {
	name, role string
	basis      TimeBasis
}{
	{"StartUTC", RoleStart, BasisArrival},
	{"ts", RoleTime, BasisLogged}, // Caddy: when the entry was written
	{"msec", RoleTime, BasisLogged},
	{"timestamp", RoleTime, BasisUnknown},
	{"@timestamp", RoleTime, BasisUnknown},
	{"time_iso8601", RoleTime, BasisLogged},
	{"time_local", RoleTime, BasisLogged},
	{"time", RoleTime, BasisUnknown},
	{"StartLocal", RoleStart, BasisArrival},
	{"date_time", RoleTime, BasisUnknown},
	{"datetime", RoleTime, BasisUnknown},
	{"request_time_utc", RoleTime, BasisUnknown},
	{"request_creation_time", RoleStart, BasisArrival}, // ALB
	// API Gateway: when the request came, in milliseconds, or seconds.
	{"requestTimeEpoch", RoleStart, BasisArrival},
	{"requestTime", RoleStart, BasisArrival},
}

func init() {
	for _, t := range timeNames {
		defaultRoleNames[t.role] = append(defaultRoleNames[t.role], t.name)
	}
}

// durationUnits is the unit of a duration written as an integer, per
// lower-case default name; a mapped name's integers are seconds.
var durationUnits = map[string]int64{"request_time": second, "duration": nanosecond, "time_taken": millisecond, "time-taken": millisecond}

// timeMeta describes a source of the time, start or duration role: its
// name as the format spells it (for TimeSource), what instant a time is,
// and the unit of an integer duration.
type timeMeta struct {
	name  string
	basis TimeBasis
	unit  int64
}

// defaultTimeMeta describes a time, start or duration source named name
// that fills role (nil for other roles).
func defaultTimeMeta(role, name string) *timeMeta {
	if role != RoleTime && role != RoleStart && role != RoleDuration {
		return nil
	}
	m := &timeMeta{name: name, unit: second}
	ln := strings.ToLower(name)
	for _, t := range timeNames {
		if strings.ToLower(t.name) == ln {
			m.basis = t.basis
		}
	}
	switch role {
	case RoleStart:
		m.basis = BasisArrival
	case RoleDuration:
		if u, ok := durationUnits[ln]; ok {
			m.unit = u
		}
	}
	return m
}

// roleTarget says what a named source column fills: a role at a priority
// (lower wins), or an extra Record field.
type roleTarget struct {
	role  string
	idx   int // roleIndex(role)
	rank  int
	field string    // non-empty: store as Record field with this name
	meta  *timeMeta // time, start and duration roles
}

// buildRoleTable returns lower-cased source name → target for the default
// names, overridden by the field map, plus the wanted extra fields
// (KeyExtractor.Fields): a wanted "http_x_api_key" also matches the
// header spellings of Caddy ("request.headers.X-Api-Key") and Traefik
// ("request_X-Api-Key").
func buildRoleTable(fieldMap map[string]string, want []string) map[string]roleTarget {
	t := map[string]roleTarget{}
	_, timeMapped := fieldMap[RoleTime]
	for role, names := range defaultRoleNames {
		if _, overridden := fieldMap[role]; overridden || (role == RoleStart && timeMapped) {
			// A mapped time is the time: no default start overrides it.
			continue
		}
		for i, n := range names {
			k := strings.ToLower(n)
			rank := i + 1
			if role == RoleTime || role == RoleStart {
				rank = timeRank(n)
			}
			if old, ok := t[k]; !ok || old.rank > rank {
				t[k] = roleTarget{role: role, idx: roleIndex(role), rank: rank, meta: defaultTimeMeta(role, n)}
			}
		}
	}
	for role, n := range fieldMap {
		t[strings.ToLower(n)] = roleTarget{role: role, idx: roleIndex(role), rank: 0, meta: defaultTimeMeta(role, n)}
	}
	wanted := append([]string(nil), want...)
	sort.Strings(wanted)
	for _, w := range wanted {
		aliases := []string{w}
		if h, ok := strings.CutPrefix(w, "http_"); ok {
			dash := strings.ReplaceAll(h, "_", "-")
			aliases = append(aliases, "request.headers."+dash, "request_"+dash, "cs("+dash+")")
		}
		for _, a := range aliases {
			a = strings.ToLower(a)
			if _, taken := t[a]; !taken {
				t[a] = roleTarget{field: w}
			}
		}
	}
	return t
}

// timeRank is the priority of a default time or start name (timeNames).
func timeRank(name string) int {
	for i, t := range timeNames {
		if t.name == name {
			return i + 1
		}
	}
	return len(timeNames) + 1
}

// nameTable is a role table (buildRoleTable) for lookups by byte slice
// once per JSON leaf: open addressing with the names' hashes kept, so a
// lookup hashes the path once and compares bytes only on a hash match.
// A Go map indexed by string(path) cost twice as much, and a Caddy line
// looks up a dozen paths.
type nameTable struct {
	slots []nameSlot // a power of two, at most half full
}

// nameHash hashes a name from its length and its first and last 8 bytes,
// in a few instructions: the names a table holds differ there ("ts",
// "request.uri", "request.client_ip"), and a lookup compares the bytes
// anyway. The table is fixed when a parse starts, so a log cannot make
// it grow; paths crafted to collide only lengthen their own probes.
func nameHash(b []byte) uint64 {
	var lo, hi uint64
	if n := len(b); n >= 8 {
		lo = binary.LittleEndian.Uint64(b)
		hi = binary.LittleEndian.Uint64(b[n-8:])
	} else {
		for i, c := range b {
			lo |= uint64(c) << (8 * i)
		}
		hi = lo
	}
	h := (lo ^ bits.RotateLeft64(hi, 29) ^ uint64(len(b))) * 0x9E3779B97F4A7C15
	return h ^ h>>29
}

type nameSlot struct {
	hash   uint64
	name   string // "" = empty slot (no table holds the empty name)
	target roleTarget
}

func newNameTable(roles map[string]roleTarget) nameTable {
	var t nameTable
	n := 8
	for n < 2*len(roles) {
		n *= 2
	}
	t.slots = make([]nameSlot, n)
	for name, target := range roles {
		if name == "" {
			continue
		}
		h := nameHash([]byte(name))
		i := h & uint64(n-1)
		for t.slots[i].name != "" {
			i = (i + 1) & uint64(n-1)
		}
		t.slots[i] = nameSlot{hash: h, name: name, target: target}
	}
	return t
}

// find returns the target of name, or nil.
func (t *nameTable) find(name []byte) *roleTarget {
	h := nameHash(name)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.name == "" {
			return nil
		}
		if s.hash == h && s.name == string(name) {
			return &s.target
		}
	}
}

// roleSlots collects role values for one record while a line is walked,
// keeping the best-ranked source per role, and turns them into a Record.
// Besides the values of one line it holds how the parser derives the
// time (logged, srcs), which reset keeps.
type roleSlots struct {
	rank [nRoles]int
	val  [nRoles][]byte
	set  [nRoles]bool
	from [nRoles]*timeMeta // the time, start and duration roles' sources
	// logged is FormatOptions.Time == TimeLogged: the time as written,
	// no duration subtracted.
	logged bool
	srcs   timeSources
}

const nRoles = 14

func roleIndex(role string) int {
	for i, n := range roleNames {
		if n == role {
			return i
		}
	}
	return -1
}

func (s *roleSlots) reset() {
	s.set = [nRoles]bool{}
	s.val = [nRoles][]byte{}
}

func (s *roleSlots) offer(idx, rank int, v []byte) { s.offerFrom(idx, rank, v, nil) }

// offerFrom offers v, from the source m (for the time, start and duration
// roles), to role idx.
func (s *roleSlots) offerFrom(idx, rank int, v []byte, m *timeMeta) {
	if s.set[idx] && s.rank[idx] <= rank {
		return
	}
	s.set[idx], s.rank[idx], s.val[idx], s.from[idx] = true, rank, v, m
}

const (
	idxTime = iota
	idxRemoteAddr
	idxUser
	idxMethod
	idxURI
	idxQuery
	idxRequest
	idxProto
	idxStatus
	idxBytes
	idxReferer
	idxUserAgent
	idxStart
	idxDuration
)

// fill moves collected role values into rec; query is joined onto the
// target through scratch when logged separately. It reports an error when
// the record has no usable time or a bad status/bytes value; a record
// with neither request nor status is not an access entry (ErrNoRecord).
func (s *roleSlots) fill(rec *Record, scratch *[]byte) error {
	if !s.set[idxStatus] && !s.set[idxMethod] && !s.set[idxURI] && !s.set[idxRequest] {
		return ErrNoRecord
	}
	if err := s.fillTime(rec); err != nil {
		return err
	}
	rec.RemoteAddr = dashless(s.val[idxRemoteAddr])
	rec.User = dashless(s.val[idxUser])
	rec.Referer = dashless(s.val[idxReferer])
	rec.UserAgent = dashless(s.val[idxUserAgent])
	if s.set[idxStatus] {
		v := s.val[idxStatus]
		if i := indexByte(v, ' '); i > 0 { // "200 OK"
			v = v[:i]
		}
		st, ok := digits(v)
		if !ok || st > 999 {
			return &SyntaxError{Msg: "bad status", Text: string(s.val[idxStatus])}
		}
		rec.Status = int(st)
	}
	if v := s.val[idxBytes]; len(v) > 0 && !isDash(v) {
		n, ok := digits(v)
		if !ok {
			return &SyntaxError{Msg: "bad byte count", Text: string(v)}
		}
		rec.Bytes = n
	}
	switch {
	case s.set[idxMethod] || s.set[idxURI]:
		rec.Method, rec.Target, rec.Proto = s.val[idxMethod], dashless(s.val[idxURI]), s.val[idxProto]
		if q := dashless(s.val[idxQuery]); len(q) > 0 && indexByte(rec.Target, '?') < 0 {
			start := len(*scratch)
			*scratch = append(*scratch, rec.Target...)
			*scratch = append(*scratch, '?')
			*scratch = append(*scratch, q...)
			rec.Target = (*scratch)[start:]
		}
		rec.HasRequest = len(rec.Target) > 0
	case s.set[idxRequest]:
		splitRequestLine(s.val[idxRequest], rec)
	}
	return nil
}

// unnamedTime describes a time source offered without one.
var unnamedTime = &timeMeta{name: "time", unit: second}

// fillTime sets rec's time from the collected time, start and duration:
// the start if there is one (with TimeLogged: if it ranks before the
// time), else the time less the duration (not with TimeLogged), else the
// time. A "-" or empty value counts as not logged.
func (s *roleSlots) fillTime(rec *Record) error {
	haveTime := s.set[idxTime] && len(dashless(s.val[idxTime])) > 0
	haveStart := s.set[idxStart] && len(dashless(s.val[idxStart])) > 0
	if !haveTime && !haveStart {
		return &SyntaxError{Msg: "no time field"}
	}
	idx := idxTime
	if haveStart && (!haveTime || !s.logged || s.rank[idxStart] < s.rank[idxTime]) {
		idx = idxStart
	}
	v := s.val[idx]
	ms, sub, frac, ok := parseAnyTime(v)
	if !ok {
		return &SyntaxError{Msg: "bad time", Text: string(v)}
	}
	from := s.from[idx]
	if from == nil {
		from = unnamedTime
	}
	k := timeKey{time: from.name, basis: from.basis}
	if idx == idxStart {
		k.basis = BasisArrival
	} else if d := dashless(s.val[idxDuration]); !s.logged && s.set[idxDuration] && len(d) > 0 {
		dm := s.from[idxDuration]
		if dm == nil {
			dm = unnamedTime
		}
		dur, ok := parseDuration(d, dm.unit)
		if !ok {
			return &SyntaxError{Msg: "bad duration", Text: string(d)}
		}
		ms, k.dur = subtractDuration(ms, sub, frac, dur), dm.name
	}
	rec.TimeMillis, rec.SubSecond = ms, frac
	rec.TimeSource = s.srcs.get(k)
	return nil
}

func dashless(b []byte) []byte {
	if isDash(b) {
		return nil
	}
	return b
}
