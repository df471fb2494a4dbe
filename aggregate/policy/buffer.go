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
	usages     []schema.UsageRow
	falses     []schema.FalseThrottleRow
}

// Window, Violation, Key, Audit, Usage and FalseThrottle keep a copy of the row.
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

func (b *RowBuffer) Usage(r *schema.UsageRow) error {
	b.usages = append(b.usages, *r)
	return nil
}

func (b *RowBuffer) FalseThrottle(r *schema.FalseThrottleRow) error {
	b.falses = append(b.falses, *r)
	return nil
}

// Replay sends the kept rows to sink, each table's in the order they
// came, and empties b.
func (b *RowBuffer) Replay(sink Sink) error {
	if err := replay(b.windows, sink.Window); err != nil {
		return err
	}
	if err := replay(b.violations, sink.Violation); err != nil {
		return err
	}
	if err := replay(b.keys, sink.Key); err != nil {
		return err
	}
	if err := replay(b.audits, sink.Audit); err != nil {
		return err
	}
	if err := replay(b.usages, sink.Usage); err != nil {
		return err
	}
	if err := replay(b.falses, sink.FalseThrottle); err != nil {
		return err
	}
	*b = RowBuffer{}
	return nil
}

// replay writes rows in order, stopping at the first error.
func replay[T any](rows []T, write func(*T) error) error {
	for i := range rows {
		if err := write(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}
