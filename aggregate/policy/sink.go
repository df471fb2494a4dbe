package policy

import "github.com/keyrate/keyrate/report/schema"

// Sink receives report rows, one method per table, in each table's
// declared sort order (report/schema): window rows by key, limit name,
// window start; violation rows by key, scope, limit name, plan, window
// start; audit and usage rows by key, scope, limit name, plan; key rows
// by key; false-throttle rows by key, window start. Within that order, rows of several dates (Options.Split) come
// by date. A sink can stream them straight to files. A row is the sink's
// only during the call (to keep it, copy it; a usage row's nullable
// numbers may be kept as they are).
type Sink interface {
	Window(*schema.WindowRow) error
	Violation(*schema.ViolationRow) error
	Key(*schema.KeyRow) error
	Audit(*schema.AuditRow) error
	Usage(*schema.UsageRow) error
	FalseThrottle(*schema.FalseThrottleRow) error
}
