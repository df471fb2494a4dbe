package report

import (
	"fmt"
	"reflect"
	"time"

	"github.com/parquet-go/parquet-go"
)

// SchemaVersion is the version of the report tables' schema (docs/schema.md).
// It changes when a column is removed, renamed or changes type or meaning;
// adding a column to the end of a table is a minor change (1.0 → 1.1).
// Every Parquet file carries it as key-value metadata.
const SchemaVersion = "1.0"

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

// SortOrder is the order rows reach a table in (aggregate.Sink's
// contract). A table declares the longest prefix of it that its columns
// have as its Parquet sorting columns, and Table.Write checks that rows
// honour it.
var SortOrder = []string{KeyColumn, "limit_name", "window_start"}

// PartitionColumns are the columns a table may be partitioned by, in order
// of preference: the first the row type has is used.
var PartitionColumns = []string{"window_start", "first_seen"}

// rowLayout is what the report package needs to know about a row type,
// derived once per table from its `parquet` tags.
type rowLayout struct {
	cols      csvColumns
	key       int   // field index of the key column, or -1
	strings   []int // field indexes of string columns
	sortBy    []int // field indexes of the declared sort order
	sortNames []string
	partition int // field index of the partition column, or -1
}

func layoutOf(t reflect.Type) (*rowLayout, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("report rows must be structs, not %s", t)
	}
	l := &rowLayout{cols: columnsOf(t), key: -1, partition: -1}
	byName := map[string]int{}
	for i, name := range l.cols.names {
		f := l.cols.fields[i]
		byName[name] = f
		if t.Field(f).Type.Kind() == reflect.String {
			l.strings = append(l.strings, f)
			if name == KeyColumn {
				l.key = f
			}
		}
	}
	for _, name := range SortOrder {
		f, ok := byName[name]
		if !ok {
			break
		}
		l.sortBy = append(l.sortBy, f)
		l.sortNames = append(l.sortNames, name)
	}
	for _, name := range PartitionColumns {
		if f, ok := byName[name]; ok && t.Field(f).Type == reflect.TypeFor[time.Time]() {
			l.partition = f
			break
		}
	}
	return l, nil
}

// sortingColumns is the Parquet declaration of l's sort order.
func (l *rowLayout) sortingColumns() []parquet.SortingColumn {
	var cols []parquet.SortingColumn
	for _, name := range l.sortNames {
		cols = append(cols, parquet.Ascending(name))
	}
	return cols
}
