package policy

import "github.com/keyrate/keyrate/report/schema"

// RowBuffer is a Sink that keeps the rows it is given, to hand them
// to another sink later, in the same order per table: how the evaluations
// of key ranges that ran concurrently reach the reports in key order.
type RowBuffer struct {
	windows    []schema.WindowRow
	violations []schema.ViolationRow
	keys       []schema.KeyRow
	audits     []schema.AuditRow
}

// Window, Violation, Key and Audit keep a copy of the row.
func (b *RowBuffer) Window(r *schema.WindowRow) error {
	b.windows = append(b.windows, *r)
	return nil
}

func (b *RowBuffer) Violation(r *schema.ViolationRow) error {
	b.violations = append(b.violations, *r)
	return nil
}

func (b *RowBuffer) Key(r *schema.KeyRow) error {
	b.keys = append(b.keys, *r)
	return nil
}

func (b *RowBuffer) Audit(r *schema.AuditRow) error {
	b.audits = append(b.audits, *r)
	return nil
}

// Replay sends the kept rows to sink, each table's in the order they
// came, and empties b.
func (b *RowBuffer) Replay(sink Sink) error {
	for i := range b.windows {
		if err := sink.Window(&b.windows[i]); err != nil {
			return err
		}
	}
	for i := range b.violations {
		if err := sink.Violation(&b.violations[i]); err != nil {
			return err
		}
	}
	for i := range b.keys {
		if err := sink.Key(&b.keys[i]); err != nil {
			return err
		}
	}
	for i := range b.audits {
		if err := sink.Audit(&b.audits[i]); err != nil {
			return err
		}
	}
	*b = RowBuffer{}
	return nil
}
