// Package schema holds the types of every keyrate output: the report
// tables' row structs, whose `parquet` tags are the column names and
// types of both the Parquet and the CSV files, and manifest.json's types
// (a contract with warehouse users and the tools that check runs,
// documented in docs/schema.md). It is a leaf of plain types that the
// aggregate packages, which produce the rows, and the report package,
// which writes them, both import, so neither needs the other.
package schema

// Version is the version of the report tables' schema (docs/schema.md).
// It changes when a column is removed, renamed or changes type or meaning;
// adding a column to the end of a table is a minor change (2.0 → 2.1).
// Every Parquet file carries it as key-value metadata. docs/schema.md
// says what changed in each version and what a loader must change.
const Version = "3.0"

// Key-value metadata keys written into every Parquet file's footer.
const (
	MetaSchemaVersion = "keyrate.schema_version"
	MetaVersion       = "keyrate.version"
	MetaPolicyDigest  = "keyrate.policy_digest"
	MetaKeyDisplay    = "keyrate.key_display"
	MetaTable         = "keyrate.table"
)

// KeyColumn is the column that holds API keys; --key-display applies to it.
const KeyColumn = "key"

// Table defines one output table: where its rows go and in what order.
// TableOf binds a definition to its row type.
type Table struct {
	// Name names the table's files: NAME.csv and NAME.parquet, or
	// NAME/date=YYYY-MM-DD/part-0.* in a day-partitioned set.
	Name string
	// SortOrder lists the columns whose ascending order rows reach the
	// table in (the evaluator's contract). The Parquet files declare it
	// as their sorting columns, and the writer checks every row against
	// it, so the declaration is true.
	SortOrder []string
	// PartitionBy names the row type's routing field: a time.Time field
	// that is not a column (`parquet:"-"`), whose UTC date places a row
	// in a day partition (the evaluator sets it; see rows.go). "" makes
	// the table flat: written whole as NAME.* even in a partitioned set.
	PartitionBy string
	// DayOnly says the table exists only in a day-partitioned set: its
	// rows are per date, and a flat run has no dates to report it by.
	DayOnly bool
}

// Flat reports whether the table is written whole even in a
// partitioned set.
func (t Table) Flat() bool { return t.PartitionBy == "" }

// TableOf is a table definition and its row type, whose `parquet` tags
// are the table's columns.
type TableOf[Row any] struct{ Table }

// RouteField is the routing field of every partitioned table.
const RouteField = "Date"

// The tables of 'keyrate analyze'. Rows come sorted by key, then (where
// the table has them) scope, limit name, plan and window start: a key
// column holding both an account and a key has the account's rows
// first. With day partitions every table is split by the routing date.
var (
	Windows = TableOf[WindowRow]{Table{
		Name:        "windows",
		SortOrder:   []string{KeyColumn, "limit_name", "window_start"},
		PartitionBy: RouteField,
	}}
	Violations = TableOf[ViolationRow]{Table{
		Name:        "violations",
		SortOrder:   []string{KeyColumn, "scope", "limit_name", "plan", "window_start"},
		PartitionBy: RouteField,
	}}
	Keys = TableOf[KeyRow]{Table{
		Name:        "keys",
		SortOrder:   []string{KeyColumn},
		PartitionBy: RouteField,
	}}
	Audit = TableOf[AuditRow]{Table{
		Name:        "throttle_audit",
		SortOrder:   []string{KeyColumn, "scope", "limit_name", "plan"},
		PartitionBy: RouteField,
	}}
	FalseThrottles = TableOf[FalseThrottleRow]{Table{
		Name:        "false_throttles",
		SortOrder:   []string{KeyColumn, "window_start"},
		PartitionBy: RouteField,
	}}
	// Limits is written whole (flat) even in a day-partitioned set: it
	// is the policy's, not a date's.
	Limits = TableOf[LimitRow]{Table{
		Name:      "limits",
		SortOrder: []string{"plan", "limit_name"},
	}}
	Usage = TableOf[UsageRow]{Table{
		Name:        "usage",
		SortOrder:   []string{KeyColumn, "scope", "limit_name", "plan"},
		PartitionBy: RouteField,
		DayOnly:     true,
	}}
)

// Tables are the tables of 'keyrate analyze', in the order it writes
// them.
var Tables = []Table{Windows.Table, Violations.Table, Keys.Table, Audit.Table, FalseThrottles.Table, Limits.Table, Usage.Table}
