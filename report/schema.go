package report

import (
	"fmt"
	"reflect"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
)

// rowLayout is what the report package needs to know about a table,
// derived once from its definition and its row type's `parquet` tags.
type rowLayout struct {
	cols      csvColumns
	key       int   // field index of the key column, or -1
	strings   []int // field indexes of string columns
	sortBy    []int // field indexes of the declared sort order
	sortNames []string
	partition int // field index of the partition column or routing field, or -1 (flat)
}

// layoutOf resolves def's columns in row type t. A definition naming a
// column t lacks (or a partition column or field that is not a time) is
// an error.
func layoutOf(t reflect.Type, sortOrder []string, partitionBy string) (*rowLayout, error) {
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
			if name == schema.KeyColumn {
				l.key = f
			}
		}
	}
	for _, name := range sortOrder {
		f, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("sort column %q is not a column of %s", name, t)
		}
		l.sortBy = append(l.sortBy, f)
		l.sortNames = append(l.sortNames, name)
	}
	if partitionBy != "" {
		// A time column, or a routing field that is not a column
		// (schema.Table.PartitionBy).
		f, ok := byName[partitionBy]
		if sf, found := t.FieldByName(partitionBy); !ok && found && len(sf.Index) == 1 {
			f, ok = sf.Index[0], true
		}
		if !ok || t.Field(f).Type != reflect.TypeFor[time.Time]() {
			return nil, fmt.Errorf("partition column %q is not a time column or field of %s", partitionBy, t)
		}
		l.partition = f
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
