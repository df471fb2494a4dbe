package report

import "github.com/keyrate/keyrate/report/schema"

// Tables are the tables of schema.Tables in one Set, taking rows the way
// the evaluator hands them out (aggregate/policy.Sink): each row goes to
// its table.
type Tables struct {
	windows    *Table[schema.WindowRow]
	violations *Table[schema.ViolationRow]
	keys       *Table[schema.KeyRow]
	audit      *Table[schema.AuditRow]
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
	return &t, nil
}

func (t *Tables) Window(r *schema.WindowRow) error       { return t.windows.Write(r) }
func (t *Tables) Violation(r *schema.ViolationRow) error { return t.violations.Write(r) }
func (t *Tables) Key(r *schema.KeyRow) error             { return t.keys.Write(r) }
func (t *Tables) Audit(r *schema.AuditRow) error         { return t.audit.Write(r) }

// Rows reports the rows each table took, by table name (the manifest's
// outputs).
func (t *Tables) Rows() map[string]int64 {
	return map[string]int64{
		t.windows.Name():    t.windows.Rows(),
		t.violations.Name(): t.violations.Rows(),
		t.keys.Name():       t.keys.Rows(),
		t.audit.Name():      t.audit.Rows(),
	}
}
