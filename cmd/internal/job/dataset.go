package job

import (
	"strconv"
	"strings"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report"
	"github.com/keyrate/keyrate/report/dataset"
)

// store is an output directory's dataset as a run finds it: its
// metadata and ledger, and the partials it holds.
type store struct {
	*dataset.Dataset
	dir string
	// dates are the dates with stored partials, ascending; classes[d]
	// the classes stored for each (the dataset's numbering, see
	// classMaps).
	dates   []string
	classes map[string][]aggregate.Class
}

func openStore(dir string, fsys report.FS) (*store, error) {
	ds, err := dataset.Open(dir, fsys)
	if err != nil {
		return nil, err
	}
	s := &store{Dataset: ds, dir: dir, classes: map[string][]aggregate.Class{}}
	dates, err := ds.Dates()
	if err != nil {
		return nil, err
	}
	for _, d := range dates {
		files, err := ds.PartialFiles(d)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			num := strings.TrimSuffix(f[strings.LastIndex(f, "/part-")+len("/part-"):], ".parquet")
			k, err := strconv.ParseUint(num, 10, 64)
			if err != nil {
				return nil, err // PartialFiles lists only part-N.parquet
			}
			s.classes[d] = append(s.classes[d], aggregate.Class(k))
		}
		if len(s.classes[d]) > 0 {
			s.dates = append(s.dates, d)
		}
	}
	return s, nil
}

func partialsPath(date string, class aggregate.Class) string {
	return dataset.PartialFile(date, int(class))
}
