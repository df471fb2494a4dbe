package aggregate

// Sink receives report rows. Window, violation and audit rows arrive
// sorted by key, then limit name, then window start; key rows by key. A
// sink can stream them straight to files.
type Sink interface {
	Window(*WindowRow) error
	Violation(*ViolationRow) error
	Key(*KeyRow) error
	Audit(*AuditRow) error
}

// Analyze evaluates fixed-window limits over every key of src: the
// one-plan policy that --limit flags stand for (see PolicyFromLimits).
// Memory is bounded by one key's series at a time.
func Analyze(src Source, limits []Limit, sink Sink) error {
	_, err := Evaluate(Inputs{All: src}, PolicyFromLimits(limits), sink)
	return err
}
