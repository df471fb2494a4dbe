// Package schema holds the types of every keyrate output: the report
// tables' row structs, whose `parquet` tags are the column names and
// types of both the Parquet and the CSV files, and manifest.json's types
// (a contract with warehouse users and the tools that check runs,
// documented in docs/schema.md). It is a leaf of plain types that the
// aggregate packages, which produce the rows, and the report package,
// which writes them, both import, so neither needs the other.
package schema
