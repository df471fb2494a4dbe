package schema

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// columns maps each column name of row type t to its Go type.
func columns(t reflect.Type) map[string]reflect.Type {
	cols := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name != "" && name != "-" {
			cols[name] = f.Type
		}
	}
	return cols
}

// check reports what of def does not name a column of its row type.
func check[Row any](t *testing.T, def TableOf[Row]) {
	t.Helper()
	cols := columns(reflect.TypeFor[Row]())
	if cols[KeyColumn] != reflect.TypeFor[string]() {
		t.Errorf("%s: no string %s column", def.Name, KeyColumn)
	}
	if len(def.SortOrder) == 0 || def.SortOrder[0] != KeyColumn {
		t.Errorf("%s: sort order %v does not start with the key", def.Name, def.SortOrder)
	}
	for _, c := range def.SortOrder {
		if cols[c] == nil {
			t.Errorf("%s: sort column %q is not a column", def.Name, c)
		}
	}
	if def.PartitionBy != "" {
		f, ok := reflect.TypeFor[Row]().FieldByName(def.PartitionBy)
		if !ok || f.Type != reflect.TypeFor[time.Time]() || f.Tag.Get("parquet") != "-" {
			t.Errorf("%s: routing field %q is not a time field without a column", def.Name, def.PartitionBy)
		}
	}
}

func TestTablesNameTheirColumns(t *testing.T) {
	check(t, Windows)
	check(t, Violations)
	check(t, Keys)
	check(t, Audit)
	check(t, Usage)
}
