package policy

import (
	"github.com/keyrate/keyrate/report/schema"
)

// Sink receives report rows. Window and violation rows arrive sorted by
// key, then limit name, then window start; key rows by key. A sink can
// stream them straight to files.
type Sink interface {
	Window(*schema.WindowRow) error
	Violation(*schema.ViolationRow) error
	Key(*schema.KeyRow) error
}

// AuditSink is a Sink that also takes throttle_audit rows (sorted by key,
// then limit name). Evaluate sends them only to sinks that implement it.
type AuditSink interface {
	Sink
	Audit(*schema.AuditRow) error
}
