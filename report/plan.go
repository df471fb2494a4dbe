package report

import (
	"path"

	"github.com/keyrate/keyrate/report/schema"
)

// The names a Set gives its files: NAME.FORMAT for a flat table,
// NAME/date=YYYY-MM-DD/part-0.FORMAT for a partitioned one, and the
// manifest.
const (
	partFile     = "part-0"
	manifestName = "manifest.json"
)

// partitionName is the directory of date's partition in its table's.
func partitionName(date string) string { return "date=" + date }

// PlannedFiles lists the files a Set in formats, partitioned by p, writes
// for tables: relative to its directory, in the order given, the
// manifest last. A partition's date stands as YYYY-MM-DD.
func PlannedFiles(tables []schema.Table, formats []Format, p Partition) []string {
	var files []string
	for _, t := range tables {
		if t.DayOnly && p == NoPartition {
			continue
		}
		base := t.Name
		if p != NoPartition && !t.Flat() {
			base = path.Join(t.Name, partitionName("YYYY-MM-DD"), partFile)
		}
		for _, f := range formats {
			files = append(files, base+"."+string(f))
		}
	}
	return append(files, manifestName)
}
