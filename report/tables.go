package report

import "github.com/keyrate/keyrate/report/schema"

// Tables are the tables of schema.Tables in one Set, taking rows the way
// the evaluator hands them out (aggregate/policy.Sink): each row goes to
// its table. A table that exists only with day partitions (usage) is
// left out of a flat set, and its rows dropped.
type Tables struct {
	windows    *Table[schema.WindowRow]
	violations *Table[schema.ViolationRow]
	keys       *Table[schema.KeyRow]
	audit      *Table[schema.AuditRow]
	falses     *Table[schema.FalseThrottleRow]
	limits     *Table[schema.LimitRow]
	usage      *Table[schema.UsageRow] // nil in a flat set
}

// NewTables starts every table of schema.Tables in set.
func NewTables(set *Set) (*Tables, error) {
	var t Tables
	var err error
	if t.windows, err = NewTable(set, schema.Windows); err != nil {
		return nil, err
	}
	if t.violations, err = NewTable(set, schema.Violations); err != nil {
		return nil, err
	}
	if t.keys, err = NewTable(set, schema.Keys); err != nil {
		return nil, err
	}
	if t.audit, err = NewTable(set, schema.Audit); err != nil {
		return nil, err
	}
	if t.falses, err = NewTable(set, schema.FalseThrottles); err != nil {
		return nil, err
	}
	if t.limits, err = NewTable(set, schema.Limits); err != nil {
		return nil, err
	}
	if set.opts.partition != NoPartition {
		if t.usage, err = NewTable(set, schema.Usage); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

func (t *Tables) Window(r *schema.WindowRow) error       { return t.windows.Write(r) }
func (t *Tables) Violation(r *schema.ViolationRow) error { return t.violations.Write(r) }
func (t *Tables) Key(r *schema.KeyRow) error             { return t.keys.Write(r) }
func (t *Tables) Audit(r *schema.AuditRow) error         { return t.audit.Write(r) }
func (t *Tables) FalseThrottle(r *schema.FalseThrottleRow) error {
	return t.falses.Write(r)
}

// Limits writes the limits table: the policy's limits (policy.LimitRows),
// sorted by plan and limit name.
func (t *Tables) Limits(rows []schema.LimitRow) error {
	for i := range rows {
		if err := t.limits.Write(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tables) Usage(r *schema.UsageRow) error {
	if t.usage == nil {
		return nil
	}
	return t.usage.Write(r)
}

// Rows reports the rows each table took, by table name (the manifest's
// outputs).
func (t *Tables) Rows() map[string]int64 {
	rows := map[string]int64{
		t.windows.Name():    t.windows.Rows(),
		t.violations.Name(): t.violations.Rows(),
		t.keys.Name():       t.keys.Rows(),
		t.audit.Name():      t.audit.Rows(),
		t.falses.Name():     t.falses.Rows(),
		t.limits.Name():     t.limits.Rows(),
	}
	if t.usage != nil {
		rows[t.usage.Name()] = t.usage.Rows()
	}
	return rows
}
