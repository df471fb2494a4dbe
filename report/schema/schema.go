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
// adding a column to the end of a table is a minor change (1.0 → 1.1).
// Every Parquet file carries it as key-value metadata.
const Version = "1.0"

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
	// PartitionBy is the time column whose UTC date places a row in a
	// day partition. "" makes the table flat: written whole as NAME.*
	// even in a partitioned set, for run summaries that have no date of
	// their own.
	PartitionBy string
}

// Flat reports whether the table is written whole even in a
// partitioned set.
func (t Table) Flat() bool { return t.PartitionBy == "" }

// TableOf is a table definition and its row type, whose `parquet` tags
// are the table's columns.
type TableOf[Row any] struct{ Table }

// The tables of 'keyrate analyze'. Window, violation and audit rows come
// sorted by key, limit name and (where the table has one) window start;
// key rows by key, and with day partitions by date within a key.
var (
	Windows = TableOf[WindowRow]{Table{
		Name:        "windows",
		SortOrder:   []string{KeyColumn, "limit_name", "window_start"},
		PartitionBy: "window_start",
	}}
	Violations = TableOf[ViolationRow]{Table{
		Name:        "violations",
		SortOrder:   []string{KeyColumn, "limit_name", "window_start"},
		PartitionBy: "window_start",
	}}
	Keys = TableOf[KeyRow]{Table{
		Name:        "keys",
		SortOrder:   []string{KeyColumn},
		PartitionBy: "first_seen",
	}}
	// Audit sums the whole run, so it is flat.
	Audit = TableOf[AuditRow]{Table{
		Name:      "throttle_audit",
		SortOrder: []string{KeyColumn, "limit_name"},
	}}
)

// Tables are the tables of 'keyrate analyze', in the order it writes
// them.
var Tables = []Table{Windows.Table, Violations.Table, Keys.Table, Audit.Table}
