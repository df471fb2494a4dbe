package policy

import "github.com/keyrate/keyrate/report/schema"

// Sink receives report rows, one method per table, in each table's
// declared sort order (report/schema): window and violation rows by key,
// then limit name, then window start; audit rows by key, then limit
// name; key rows by key. A sink can stream them straight to files.
type Sink interface {
	Window(*schema.WindowRow) error
	Violation(*schema.ViolationRow) error
	Key(*schema.KeyRow) error
	Audit(*schema.AuditRow) error
}
