package policy

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyrate/keyrate/aggregate"
)

// StateCursor reads the scope states of one date in canonical order:
// accounts before keys, each by key. Next returns io.EOF after the last;
// the state it returns is valid until the next call.
type StateCursor interface {
	// Date is the UTC midnight the states hold at the start of.
	Date() time.Time
	Next() (*ScopeState, error)
}

// StateWriter receives an evaluation's checkpoints (Options.Checkpoints).
// Date is called first once for every checkpoint date, ascending, so
// that the writer knows each, also those without a state; then, during
// the evaluation, again before the states of another date than the
// last named. For each date the states come in canonical order (see
// StateCursor). A state is valid only during the call.
type StateWriter interface {
	Date(d time.Time) error
	State(s *ScopeState) error
}

// The checkpoint file format (docs/policy.md): a canonical encoding, so
// that equal states are equal bytes and a run that changes nothing
// rewrites nothing.
//
//	"KRS1"                          magic and version
//	varint  date                    days since 1970-01-01
//	per scope state, in canonical order:
//	  byte 1, byte scope            0 account, 1 key
//	  string key, uvarint rules
//	  per rule, by plan then limit:
//	    string plan, string limit, byte algorithm   0 fixed, 1 sliding, 2 token bucket, 3 leaky bucket
//	    uvarint flags               bit 0: the bucket has rejected
//	    [uvarint D − first_exceeded]
//	    fixed:   uvarint accepted
//	    sliding: uvarint n, n × (uvarint time delta, uvarint count): the first
//	             delta is D − time, the others time − previous time
//	    token:   uvarint tokens
//	    leaky:   uvarint excess, uvarint D − last
//	byte 0                          end
//	uint32  CRC-32C of all the bytes before, little endian
//
// D is the date's start in epoch ms, strings are a uvarint length and
// their bytes, and every delta is positive.
var stateMagic = []byte("KRS1")

var algorithmCodes = []Algorithm{Fixed, Sliding, TokenBucket, LeakyBucket}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Limits that keep a corrupt file from making the reader allocate much.
const (
	maxStateString  = 1 << 20
	maxStateRules   = 1 << 16
	maxStateEntries = 1 << 26
)

// StateEncoder writes one date's checkpoint file.
type StateEncoder struct {
	w    *bufio.Writer
	crc  uint32
	day  int64 // epoch ms
	buf  []byte
	n    int
	prev ScopeState // scope and key of the last state
	err  error
}

// NewStateEncoder starts the checkpoint file of date d in w.
func NewStateEncoder(w io.Writer, d time.Time) (*StateEncoder, error) {
	day, err := dayStart(d)
	if err == nil && (day > 1<<61 || day < -(1<<61)) {
		err = fmt.Errorf("date %s out of range", d.UTC().Format(time.DateOnly))
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	e := &StateEncoder{w: bufio.NewWriterSize(w, 64<<10), day: day}
	e.buf = append(e.buf, stateMagic...)
	e.buf = binary.AppendVarint(e.buf, day/dayMillis)
	e.flush()
	return e, e.err
}

func (e *StateEncoder) flush() {
	if e.err == nil {
		e.crc = crc32.Update(e.crc, castagnoli, e.buf)
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

// Write appends one scope's state, which must come after the last in
// canonical order and be a state at the file's date.
func (e *StateEncoder) Write(s *ScopeState) error {
	if e.err != nil {
		return e.err
	}
	if err := e.check(s); err != nil {
		return fmt.Errorf("checkpoint: %s %s: %w", s.Scope, s.Key, err)
	}
	b := append(e.buf, 1, scopeCode(s.Scope))
	b = appendString(b, s.Key)
	b = binary.AppendUvarint(b, uint64(len(s.Rules)))
	for i := range s.Rules {
		rs := &s.Rules[i]
		b = appendString(b, rs.Plan)
		b = appendString(b, rs.Limit)
		b = append(b, byte(slices.Index(algorithmCodes, rs.Algorithm)))
		if rs.FirstExceeded != NoTime {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(e.day-rs.FirstExceeded))
		} else {
			b = append(b, 0)
		}
		switch rs.Algorithm {
		case Fixed:
			b = binary.AppendUvarint(b, uint64(rs.Accepted))
		case Sliding:
			b = binary.AppendUvarint(b, uint64(len(rs.Times)))
			prev := e.day
			for j, t := range rs.Times {
				if j == 0 {
					b = binary.AppendUvarint(b, uint64(prev-t))
				} else {
					b = binary.AppendUvarint(b, uint64(t-prev))
				}
				prev = t
				b = binary.AppendUvarint(b, uint64(rs.Counts[j]))
			}
		case TokenBucket:
			b = binary.AppendUvarint(b, uint64(rs.Tokens))
		case LeakyBucket:
			b = binary.AppendUvarint(b, uint64(rs.Excess))
			b = binary.AppendUvarint(b, uint64(e.day-rs.Last))
		}
	}
	e.buf = b
	e.flush()
	e.prev.Scope, e.prev.Key = s.Scope, s.Key
	e.n++
	return e.err
}

// check reports what in s the format cannot hold or the reader would
// refuse.
func (e *StateEncoder) check(s *ScopeState) error {
	if s.Scope != ScopeAccount && s.Scope != ScopeKey {
		return fmt.Errorf("unknown scope")
	}
	if e.n > 0 && compareScopes(&e.prev, s) >= 0 {
		return fmt.Errorf("state out of canonical order")
	}
	if len(s.Rules) == 0 || len(s.Rules) > maxStateRules || len(s.Key) > maxStateString {
		return fmt.Errorf("%d rules", len(s.Rules))
	}
	for i := range s.Rules {
		rs := &s.Rules[i]
		if i > 0 && compareRules(&s.Rules[i-1], rs) >= 0 {
			return fmt.Errorf("rules out of canonical order")
		}
		if err := checkRule(rs, e.day); err != nil {
			return fmt.Errorf("plan %s, limit %s: %w", rs.Plan, rs.Limit, err)
		}
	}
	return nil
}

// checkRule checks a rule state's numbers against its date day (ms).
func checkRule(rs *RuleState, day int64) error {
	if len(rs.Plan) > maxStateString || len(rs.Limit) > maxStateString {
		return fmt.Errorf("name too long")
	}
	// Times lie before the date, and at most 2^62 ms before it.
	past := func(t int64) bool { return t < day && day-t <= 1<<62 }
	if rs.FirstExceeded != NoTime && !past(rs.FirstExceeded) {
		return fmt.Errorf("first rejection not before the date")
	}
	switch rs.Algorithm {
	case Fixed:
		if rs.Accepted < 0 {
			return fmt.Errorf("negative count")
		}
	case Sliding:
		if len(rs.Times) != len(rs.Counts) || len(rs.Times) > maxStateEntries {
			return fmt.Errorf("%d times, %d counts", len(rs.Times), len(rs.Counts))
		}
		for j, t := range rs.Times {
			if !past(t) || (j > 0 && t <= rs.Times[j-1]) || rs.Counts[j] < 0 {
				return fmt.Errorf("sliding window entry %d out of order", j)
			}
		}
	case TokenBucket:
		if rs.Tokens < 0 {
			return fmt.Errorf("negative tokens")
		}
	case LeakyBucket:
		if rs.Excess < 0 || !past(rs.Last) {
			return fmt.Errorf("leaky bucket excess %d, last %d", rs.Excess, rs.Last)
		}
	default:
		return fmt.Errorf("unknown algorithm %q", rs.Algorithm)
	}
	return nil
}

// Close ends the file (end mark and checksum) and flushes it.
func (e *StateEncoder) Close() error {
	if e.err != nil {
		return e.err
	}
	e.buf = append(e.buf, 0)
	e.flush()
	if e.err == nil {
		_, e.err = e.w.Write(binary.LittleEndian.AppendUint32(nil, e.crc))
	}
	if e.err == nil {
		e.err = e.w.Flush()
	}
	if e.err == nil {
		e.err = errClosed
		return nil
	}
	return e.err
}

var errClosed = errors.New("checkpoint: encoder closed")

func scopeCode(scope string) byte {
	if scope == ScopeAccount {
		return 0
	}
	return 1
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// compareScopes orders states canonically: by scope, then key.
func compareScopes(a, b *ScopeState) int {
	return cmp.Or(strings.Compare(a.Scope, b.Scope), strings.Compare(a.Key, b.Key))
}

// compareRules orders rule states canonically: by plan, then limit.
func compareRules(a, b *RuleState) int {
	return cmp.Or(strings.Compare(a.Plan, b.Plan), strings.Compare(a.Limit, b.Limit))
}

// WriteStates writes the states c reads as one checkpoint file: the same
// states give the same bytes.
func WriteStates(w io.Writer, c StateCursor) error {
	e, err := NewStateEncoder(w, c.Date())
	if err != nil {
		return err
	}
	for {
		s, err := c.Next()
		if err == io.EOF {
			return e.Close()
		}
		if err != nil {
			return err
		}
		if err := e.Write(s); err != nil {
			return err
		}
	}
}

// ReadStates opens a checkpoint file: it reads the header now and each
// state as Next is called, in bounded memory. A damaged file is an
// error (the caller names the file), never a wrong state.
func ReadStates(r io.Reader) (StateCursor, error) {
	d := &stateDecoder{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(d, magic); err != nil || string(magic) != string(stateMagic) {
		return nil, fmt.Errorf("checkpoint: not a keyrate state file (want %q at the start)", stateMagic)
	}
	// Dates within ±2^61 ms (73 million years) keep every time the file
	// holds, D ± 2^62 at most, inside int64.
	day, err := binary.ReadVarint(d)
	if err != nil || day > (1<<61)/dayMillis || day < -(1<<61)/dayMillis {
		return nil, d.fail(fmt.Errorf("bad date"))
	}
	d.day = day * dayMillis
	return d, nil
}

// stateDecoder reads a checkpoint file, checksumming what it reads.
type stateDecoder struct {
	r    *bufio.Reader
	crc  uint32
	off  int64
	day  int64
	s    ScopeState
	n    int
	done bool
	err  error
}

func (d *stateDecoder) Date() time.Time { return aggregate.Millis(d.day) }

func (d *stateDecoder) ReadByte() (byte, error) {
	c, err := d.r.ReadByte()
	if err == nil {
		d.crc = crc32.Update(d.crc, castagnoli, []byte{c})
		d.off++
	}
	return c, err
}

func (d *stateDecoder) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.crc = crc32.Update(d.crc, castagnoli, p[:n])
	d.off += int64(n)
	return n, err
}

func (d *stateDecoder) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("checkpoint: corrupt near byte %d: %w", d.off, err)
}

func (d *stateDecoder) uvarint() (int64, error) {
	v, err := binary.ReadUvarint(d)
	if err == nil && v > maxInt64 {
		err = fmt.Errorf("number out of range")
	}
	return int64(v), err
}

func (d *stateDecoder) string() (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > maxStateString {
		return "", fmt.Errorf("string of %d bytes", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(d, b)
	return string(b), err
}

// Next implements StateCursor.
func (d *stateDecoder) Next() (*ScopeState, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.done {
		return nil, io.EOF
	}
	s, err := d.next()
	if err != nil {
		d.err = d.fail(err)
		return nil, d.err
	}
	if s == nil {
		d.done = true
		return nil, io.EOF
	}
	return s, nil
}

func (d *stateDecoder) next() (*ScopeState, error) {
	mark, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	if mark == 0 {
		want := d.crc
		var sum [4]byte
		if _, err := io.ReadFull(d.r, sum[:]); err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(sum[:]) != want {
			return nil, fmt.Errorf("checksum mismatch")
		}
		if _, err := d.r.ReadByte(); err != io.EOF {
			return nil, fmt.Errorf("data after the end")
		}
		return nil, nil
	}
	if mark != 1 {
		return nil, fmt.Errorf("bad record mark %d", mark)
	}
	code, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	prev := d.s
	s := &d.s
	switch code {
	case 0:
		s.Scope = ScopeAccount
	case 1:
		s.Scope = ScopeKey
	default:
		return nil, fmt.Errorf("bad scope %d", code)
	}
	if s.Key, err = d.string(); err != nil {
		return nil, err
	}
	if d.n > 0 && compareScopes(&prev, s) >= 0 {
		return nil, fmt.Errorf("state out of canonical order")
	}
	nrules, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if nrules == 0 || nrules > maxStateRules {
		return nil, fmt.Errorf("%d rules", nrules)
	}
	s.Rules = s.Rules[:0]
	for i := range nrules {
		s.Rules = append(s.Rules, RuleState{})
		rs := &s.Rules[i]
		if err := d.rule(rs); err != nil {
			return nil, err
		}
		if i > 0 && compareRules(&s.Rules[i-1], rs) >= 0 {
			return nil, fmt.Errorf("rules out of canonical order")
		}
		if err := checkRule(rs, d.day); err != nil {
			return nil, err
		}
	}
	d.n++
	return s, nil
}

// rule reads one rule state; checkRule then checks its numbers.
func (d *stateDecoder) rule(rs *RuleState) error {
	var err error
	if rs.Plan, err = d.string(); err != nil {
		return err
	}
	if rs.Limit, err = d.string(); err != nil {
		return err
	}
	alg, err := d.ReadByte()
	if err != nil {
		return err
	}
	if int(alg) >= len(algorithmCodes) {
		return fmt.Errorf("bad algorithm %d", alg)
	}
	rs.Algorithm = algorithmCodes[alg]
	flags, err := d.ReadByte()
	if err != nil {
		return err
	}
	rs.FirstExceeded = NoTime
	switch flags {
	case 0:
	case 1:
		back, err := d.positive()
		if err != nil {
			return err
		}
		rs.FirstExceeded = d.day - back
	default:
		return fmt.Errorf("bad flags %d", flags)
	}
	switch rs.Algorithm {
	case Fixed:
		rs.Accepted, err = d.uvarint()
	case Sliding:
		var n int64
		if n, err = d.uvarint(); err != nil {
			return err
		}
		if n > maxStateEntries { // 0: a bucket that rejected, with an empty window
			return fmt.Errorf("sliding window of %d entries", n)
		}
		t := d.day
		for j := range n {
			delta, err := d.positive()
			if err != nil {
				return err
			}
			if j == 0 {
				t -= delta
			} else if t += delta; t >= d.day {
				return fmt.Errorf("sliding window entry %d not before the date", j)
			}
			c, err := d.uvarint()
			if err != nil {
				return err
			}
			rs.Times = append(rs.Times, t)
			rs.Counts = append(rs.Counts, c)
		}
	case TokenBucket:
		rs.Tokens, err = d.uvarint()
	case LeakyBucket:
		if rs.Excess, err = d.uvarint(); err != nil {
			return err
		}
		var back int64
		back, err = d.positive()
		rs.Last = d.day - back
	}
	return err
}

// positive reads a time delta: above 0, at most 2^62.
func (d *stateDecoder) positive() (int64, error) {
	v, err := d.uvarint()
	if err == nil && (v == 0 || v > 1<<62) {
		err = fmt.Errorf("bad time delta %d", v)
	}
	return v, err
}

// StateFiles is a StateWriter that encodes each date's states into a
// writer of its own, which Open returns on the date's first use (every
// checkpoint date, since the evaluation names each first). Close ends
// every file, in date order.
type StateFiles struct {
	Open  func(d time.Time) (io.Writer, error)
	files map[int64]*StateEncoder
	dates []int64
	cur   *StateEncoder
}

// Date implements StateWriter.
func (f *StateFiles) Date(d time.Time) error {
	day, err := dayStart(d)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if e, ok := f.files[day]; ok {
		f.cur = e
		return nil
	}
	w, err := f.Open(d)
	if err != nil {
		return err
	}
	e, err := NewStateEncoder(w, d)
	if err != nil {
		return err
	}
	if f.files == nil {
		f.files = map[int64]*StateEncoder{}
	}
	f.files[day] = e
	f.dates = append(f.dates, day)
	f.cur = e
	return nil
}

// State implements StateWriter.
func (f *StateFiles) State(s *ScopeState) error {
	if f.cur == nil {
		return fmt.Errorf("checkpoint: a state before any date")
	}
	return f.cur.Write(s)
}

// Close ends every file.
func (f *StateFiles) Close() error {
	slices.Sort(f.dates)
	for _, d := range f.dates {
		if err := f.files[d].Close(); err != nil {
			return err
		}
	}
	return nil
}
