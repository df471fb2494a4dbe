package parse

import "strings"

// ColumnMapper turns the named columns of a row (a Parquet file's) into a
// Record, using the same role names and field map as JSON lines. A
// CloudFront-style split "date" + "time" pair is joined, unless the field
// map names the time column.
type ColumnMapper struct {
	targets []roleTarget // per input column; role "" and field "" = unused
	dateCol int          // "date" column when time is split, else -1
	clock   int          // "time" column paired with dateCol
	slots   roleSlots
	scratch []byte
	join    []byte // a row's target joined from stem and query
	date    []byte
	fields  []Field
}

// NewColumnMapper maps the columns named names. Needed lists the indices
// of the columns a Record uses, so a columnar reader can project only
// those.
func NewColumnMapper(names []string, o FormatOptions) *ColumnMapper {
	table := buildRoleTable(o.Fields, o.Want)
	m := &ColumnMapper{targets: make([]roleTarget, len(names)), dateCol: -1, clock: -1}
	m.slots.logged = o.Time == TimeLogged
	m.slots.srcs.advice = jsonTimeAdvice
	for i, n := range names {
		ln := strings.ToLower(n)
		m.targets[i] = table[ln]
		if ln == "date" {
			m.dateCol = i
		}
		if ln == "time" {
			m.clock = i
		}
	}
	if _, mapped := o.Fields[RoleTime]; mapped || m.dateCol < 0 || m.clock < 0 {
		m.dateCol, m.clock = -1, -1
	} else {
		// CloudFront's date and time: when the response was sent.
		m.targets[m.clock] = roleTarget{role: RoleTime, idx: idxTime, rank: 0, meta: &timeMeta{name: "date time", basis: BasisLogged, unit: second}}
	}
	return m
}

// Needed returns the indices of the columns that fill a Record.
func (m *ColumnMapper) Needed() []int {
	var out []int
	for i, t := range m.targets {
		if t.role != "" || t.field != "" || i == m.dateCol {
			out = append(out, i)
		}
	}
	return out
}

// Reset starts a new row.
func (m *ColumnMapper) Reset() {
	m.slots.reset()
	m.fields = m.fields[:0]
	m.date = nil
}

// Set gives column col's value as text (nil for null). v must stay valid
// until Fill.
func (m *ColumnMapper) Set(col int, v []byte) {
	if v == nil || col < 0 || col >= len(m.targets) {
		return
	}
	if col == m.dateCol {
		m.date = v
		return
	}
	t := m.targets[col]
	switch {
	case t.field != "":
		m.fields = append(m.fields, Field{Name: t.field, Value: v})
	case t.role != "":
		m.slots.offerFrom(t.idx, t.rank, v, t.meta)
	}
}

// Fill builds rec from the row's values.
func (m *ColumnMapper) Fill(rec *Record) error {
	rec.Reset()
	if m.dateCol >= 0 && m.date != nil && m.slots.set[idxTime] && m.slots.rank[idxTime] == 0 {
		clock := m.slots.val[idxTime]
		m.scratch = append(append(append(m.scratch[:0], m.date...), ' '), clock...)
		m.slots.val[idxTime] = m.scratch
	}
	rec.Fields = append(rec.Fields, m.fields...)
	// The target joined from stem and query goes to a buffer reused from
	// row to row (a Record's slices are valid until the next one).
	m.join = m.join[:0]
	return m.slots.fill(rec, &m.join)
}
