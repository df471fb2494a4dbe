package report

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/keyrate/keyrate/report/schema"
)

// winRow mirrors the shape of the aggregate's window rows: the report
// package must not import aggregate, and its behaviour depends only on
// the tags.
type winRow struct {
	Key         string    `parquet:"key,dict"`
	LimitName   string    `parquet:"limit_name,dict"`
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd   time.Time `parquet:"window_end,timestamp(millisecond)"`
	Requests    int64     `parquet:"requests"`
}

// keyRow has no window: it sorts by key only and partitions by first_seen.
type keyRow struct {
	Key       string    `parquet:"key"`
	Requests  int64     `parquet:"requests"`
	FirstSeen time.Time `parquet:"first_seen,timestamp(millisecond)"`
}

// tableOf defines a test table named name as keyrate's own tables are
// defined (report/schema): sorted by the prefix of key, limit_name,
// window_start that T has, partitioned by its window_start or else its
// first_seen time column, flat without either.
func tableOf[T any](name string) schema.TableOf[T] {
	def := schema.TableOf[T]{Table: schema.Table{Name: name}}
	cols := map[string]reflect.Type{}
	for f := range reflect.TypeFor[T]().Fields() {
		col, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		cols[col] = f.Type
	}
	for _, c := range []string{schema.KeyColumn, "limit_name", "window_start"} {
		if cols[c] == nil {
			break
		}
		def.SortOrder = append(def.SortOrder, c)
	}
	for _, c := range []string{"window_start", "first_seen"} {
		if cols[c] == reflect.TypeFor[time.Time]() {
			def.PartitionBy = c
			break
		}
	}
	return def
}

var day0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// genWindows makes n sorted rows over keys × minute windows starting at
// from, spread over the given number of days.
func genWindows(n, keys int, from time.Time, days int) []winRow {
	rows := make([]winRow, 0, n)
	perKey := n / keys
	for k := range keys {
		for i := range perKey {
			start := from.Add(time.Duration(i*days*24*60/perKey) * time.Minute)
			rows = append(rows, winRow{
				Key:         "key-" + string(rune('a'+k%26)) + strings.Repeat("x", k/26),
				LimitName:   "100/min",
				WindowStart: start, WindowEnd: start.Add(time.Minute),
				Requests: int64(i%97 + 1),
			})
		}
	}
	slices.SortFunc(rows, func(a, b winRow) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.WindowStart.Compare(b.WindowStart)
	})
	return rows
}

// writeTable writes rows as table name into a new set in dir, checks
// the table counted them, and commits with manifest (nil: none).
func writeTable[T any](t *testing.T, dir, name string, formats []Format, rows []T, manifest *schema.Manifest, opts ...Option) *Set {
	t.Helper()
	set, err := NewSet(dir, formats, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := NewTable(set, tableOf[T](name))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := tab.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tab.Rows() != int64(len(rows)) {
		t.Errorf("%s: Rows() = %d, want %d", name, tab.Rows(), len(rows))
	}
	if err := set.Commit(context.Background(), manifest); err != nil {
		t.Fatal(err)
	}
	return set
}

// writeSet writes rows as table "windows" in both formats into dir and
// commits with a manifest.
func writeSet(t *testing.T, dir string, rows []winRow, opts ...Option) *Set {
	t.Helper()
	return writeTable(t, dir, "windows", []Format{CSV, Parquet}, rows, rowsManifest("rows", len(rows)), opts...)
}

// rowsManifest is a manifest that counts n rows of table name.
func rowsManifest(name string, n int) *schema.Manifest {
	return &schema.Manifest{Outputs: map[string]int64{name: int64(n)}}
}

// readArrow reads the Parquet file at path whole with Apache Arrow, the
// independent reader; the table is released when the test ends.
func readArrow(t *testing.T, path string) arrow.Table {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdr.Close() })
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// tree maps every file under dir (relative path) to its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readerAt opens path for parquet.OpenFile.
func readerAt(t *testing.T, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

func fmtSlice(s []string) string { return "[" + strings.Join(s, " ") + "]" }

func sortStrings(s []string) { slices.Sort(s) }
