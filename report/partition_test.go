package report

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyrate/keyrate/report/schema"
)

func datesOf(rows []winRow) map[string]int {
	n := map[string]int{}
	for _, r := range rows {
		n[r.WindowStart.Format(time.DateOnly)]++
	}
	return n
}

func TestPartitionedLayout(t *testing.T) {
	dir := t.TempDir()
	rows := genWindows(3000, 5, day0.Add(6*time.Hour), 2) // 06:00 on day 0 to day 2
	first, last := rows[0].WindowStart, day0.Add(3*24*time.Hour-time.Second)
	for _, r := range rows {
		if r.WindowStart.Before(first) {
			first = r.WindowStart
		}
	}
	set := writeSet(t, dir, rows, WithPartition(PartitionDay, first, last))
	dates, partial, err := set.Dates()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-11-23", "2026-11-24", "2026-11-25"}
	if !slices.Equal(dates, want) {
		t.Errorf("dates %v, want %v", dates, want)
	}
	if !slices.Equal(partial, []string{"2026-11-23"}) {
		t.Errorf("partial %v, want [2026-11-23] (the input starts at 06:00)", partial)
	}
	files := tree(t, dir)
	perDate := datesOf(rows)
	for _, d := range want {
		csvText, ok := files["windows/date="+d+"/part-0.csv"]
		if _, pq := files["windows/date="+d+"/part-0.parquet"]; !ok || !pq {
			t.Fatalf("date %s: files missing; have %v", d, keysOf(files))
		}
		lines := strings.Split(strings.TrimSuffix(csvText, "\n"), "\n")
		if len(lines)-1 != perDate[d] {
			t.Errorf("date %s: %d rows, want %d", d, len(lines)-1, perDate[d])
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, ","+d+"T") {
				t.Errorf("date %s holds row %q", d, l)
			}
		}
	}
	for name := range files {
		if strings.Contains(name, "/.") || strings.Contains(name, "tmp") {
			t.Errorf("leftover %s", name)
		}
	}
	if _, ok := files["manifest.json"]; !ok {
		t.Error("no manifest")
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Errorf("commit left the staging directory (%v)", err)
	}
}

// TestPartitionReplace runs two "nights": the second replaces exactly the
// dates it covers, writes empty partitions for covered dates without rows,
// and leaves the others byte for byte as they were.
func TestPartitionReplace(t *testing.T) {
	dir := t.TempDir()
	night1 := genWindows(2000, 4, day0, 2) // days 0 and 1
	writeSet(t, dir, night1, WithPartition(PartitionDay, day0, day0.Add(48*time.Hour-time.Second)))
	before := tree(t, dir)

	// Night 2 covers days 1 to 3, with rows on days 1 and 2 only, and
	// different counts on day 1.
	day1 := day0.Add(24 * time.Hour)
	night2 := genWindows(1500, 3, day1, 2)
	for i := range night2 {
		night2[i].Requests += 1000
	}
	writeSet(t, dir, night2, WithPartition(PartitionDay, day1, day1.Add(72*time.Hour-time.Second)))
	after := tree(t, dir)

	for name, content := range before {
		if strings.Contains(name, "date=2026-11-23/") && after[name] != content {
			t.Errorf("%s changed though night 2 does not cover it", name)
		}
	}
	if !strings.Contains(after["windows/date=2026-11-24/part-0.csv"], ",1001\n") ||
		strings.Count(after["windows/date=2026-11-24/part-0.csv"], "\n")-1 != datesOf(night2)["2026-11-24"] {
		t.Error("date 2026-11-24 was not replaced by night 2's rows")
	}
	if got := after["windows/date=2026-11-26/part-0.csv"]; got != "key,limit_name,window_start,window_end,requests\n" {
		t.Errorf("covered date without rows: csv %q, want the header only", got)
	}
	if _, ok := after["windows/date=2026-11-26/part-0.parquet"]; !ok {
		t.Error("covered date without rows has no parquet file")
	}
	// Re-running night 2 changes nothing.
	writeSet(t, dir, night2, WithPartition(PartitionDay, day1, day1.Add(72*time.Hour-time.Second)))
	again := tree(t, dir)
	for name, content := range after {
		if name != "manifest.json" && again[name] != content {
			t.Errorf("re-run changed %s", name)
		}
	}
	if len(again) != len(after) {
		t.Errorf("re-run: %d files, before %d", len(again), len(after))
	}
}

func TestPartitionAbortLeavesOldData(t *testing.T) {
	dir := t.TempDir()
	night1 := genWindows(500, 2, day0, 1)
	writeSet(t, dir, night1, WithPartition(PartitionDay, day0, day0.Add(24*time.Hour-time.Second)))
	before := tree(t, dir)

	set, err := NewSet(dir, []Format{CSV, Parquet}, WithPartition(PartitionDay, day0, day0.Add(24*time.Hour-time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := NewTable(set, tableOf[winRow]("windows"))
	rows := genWindows(100, 1, day0, 1)
	for i := range rows {
		if err := tab.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	// While a run writes, a reader of windows/*/*.parquet sees only the
	// committed partitions: nothing is staged inside the table directory.
	if got, _ := filepath.Glob(filepath.Join(dir, "windows", "*", "*")); len(got) != 2 {
		t.Errorf("mid-run the table directory holds %v", got)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "windows"))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "date=") {
			t.Errorf("mid-run the table directory holds %s", e.Name())
		}
	}
	set.Abort()
	after := tree(t, dir)
	if len(after) != len(before) {
		t.Errorf("abort left %v, before %v", keysOf(after), keysOf(before))
	}
	for name, c := range before {
		if after[name] != c {
			t.Errorf("abort changed %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Errorf("abort left the staging directory (%v)", err)
	}

	// A first run that fails leaves no empty table directory behind,
	// but one that held partitions before stays.
	fresh := t.TempDir()
	set, err = NewSet(fresh, []Format{CSV}, WithPartition(PartitionDay, day0, day0.Add(24*time.Hour-time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	tab, _ = NewTable(set, tableOf[winRow]("windows"))
	for i := range rows {
		if err := tab.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := set.Dates(); err != nil { // as a run does before it commits: the partitions exist
		t.Fatal(err)
	}
	// Staged: the table's directory appears only with the commit.
	if _, err := os.Stat(filepath.Join(fresh, "windows")); !os.IsNotExist(err) {
		t.Fatalf("a table directory before the commit: %v", err)
	}
	set.Abort()
	if left, _ := os.ReadDir(fresh); len(left) != 0 {
		t.Errorf("a failed first run left %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "windows")); err != nil {
		t.Errorf("abort removed a table directory it did not make: %v", err)
	}
}

// TestPartitionFaultsLeaveOldData: the partitions' directories are made
// and synced through the set's FS too, so their faults reach a commit,
// which then leaves the previous reports as they were.
func TestPartitionFaultsLeaveOldData(t *testing.T) {
	night := WithPartition(PartitionDay, day0, day0.Add(2*24*time.Hour-time.Second))
	for _, c := range []struct {
		name string
		fs   *faultFS
		want string
	}{
		{"partition directory cannot be made", &faultFS{mkdirErr: syscall.EROFS}, "read-only file system"},
		{"partition directory sync fails", &faultFS{syncDirErr: syscall.EIO, syncDir: 1}, "input/output error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSet(t, dir, genWindows(500, 2, day0, 2), night)
			before := tree(t, dir)
			set, err := NewSetFS(dir, []Format{CSV, Parquet}, c.fs, night)
			if err != nil {
				t.Fatal(err)
			}
			tab, err := NewTable(set, tableOf[winRow]("windows"))
			if err != nil {
				t.Fatal(err)
			}
			rows := genWindows(100, 1, day0, 2)
			for i := range rows {
				if err = tab.Write(&rows[i]); err != nil {
					break
				}
			}
			if err == nil {
				err = set.Commit(context.Background(), rowsManifest("rows", len(rows)))
			} else {
				set.Abort()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if after := tree(t, dir); !maps.Equal(after, before) {
				t.Errorf("after the failure: %v, want the previous %v", keysOf(after), keysOf(before))
			}
		})
	}
}

func TestPartialDates(t *testing.T) {
	at := func(d int, hms string) time.Time {
		tm, err := time.Parse("15:04:05", hms)
		if err != nil {
			t.Fatal(err)
		}
		return day0.AddDate(0, 0, d).Add(time.Duration(tm.Hour())*time.Hour + time.Duration(tm.Minute())*time.Minute + time.Duration(tm.Second())*time.Second)
	}
	cases := []struct {
		first, last    time.Time
		dates, partial []string
	}{
		{at(0, "00:00:00"), at(0, "23:59:59"), []string{"2026-11-23"}, nil},
		{at(0, "00:00:00").Add(999 * time.Millisecond), at(0, "23:59:59").Add(999 * time.Millisecond), []string{"2026-11-23"}, nil},
		{at(0, "00:00:01"), at(0, "23:59:59"), []string{"2026-11-23"}, []string{"2026-11-23"}},
		{at(0, "00:00:00"), at(0, "23:59:58"), []string{"2026-11-23"}, []string{"2026-11-23"}},
		// logrotate at 06:25: two dates, both partial.
		{at(0, "06:25:01"), at(1, "06:25:00"), []string{"2026-11-23", "2026-11-24"}, []string{"2026-11-23", "2026-11-24"}},
		// Three dates: only the middle one whole.
		{at(0, "06:25:01"), at(2, "06:25:00"), []string{"2026-11-23", "2026-11-24", "2026-11-25"}, []string{"2026-11-23", "2026-11-25"}},
	}
	for _, c := range cases {
		set, err := NewSet(t.TempDir(), []Format{CSV}, WithPartition(PartitionDay, c.first, c.last))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewTable(set, tableOf[winRow]("windows")); err != nil {
			t.Fatal(err)
		}
		dates, partial, err := set.Dates()
		set.Abort()
		if err != nil || !slices.Equal(dates, c.dates) || !slices.Equal(partial, c.partial) {
			t.Errorf("%s..%s: dates %v partial %v (%v), want %v %v", c.first, c.last, dates, partial, err, c.dates, c.partial)
		}
	}
	// A row outside the input's range (a window that began before it)
	// makes its date partial.
	dir := t.TempDir()
	early := []winRow{{Key: "k", LimitName: "1/day", WindowStart: day0.Add(-time.Hour), WindowEnd: day0.Add(time.Hour), Requests: 2}}
	set := writeSet(t, dir, early, WithPartition(PartitionDay, day0, day0.Add(24*time.Hour-time.Second)))
	if _, partial, _ := set.Dates(); !slices.Equal(partial, []string{"2026-11-22"}) {
		t.Errorf("row before the range: partial %v, want [2026-11-22]", partial)
	}
}

func TestPartitionNeedsDateColumn(t *testing.T) {
	type noDate struct {
		Key string `parquet:"key"`
		N   int64  `parquet:"n"`
	}
	set, err := NewSet(t.TempDir(), []Format{CSV}, WithPartition(PartitionDay, day0, day0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTable(set, schema.TableOf[noDate]{Table: schema.Table{Name: "audit", PartitionBy: "first_seen"}}); err == nil {
		t.Error("a table without a date column was partitioned")
	}
	audit, err := NewTable(set, tableOf[noDate]("audit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Write(&noDate{Key: "k", N: 3}); err != nil {
		t.Fatal(err)
	}
	keys, err := NewTable(set, tableOf[keyRow]("keys"))
	if err != nil {
		t.Fatalf("keys table (first_seen): %v", err)
	}
	if err := keys.Write(&keyRow{Key: "k", Requests: 3, FirstSeen: day0}); err != nil {
		t.Fatal(err)
	}
	if err := set.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got := keysOf(tree(t, set.dir))
	want := []string{"audit.csv", "keys/date=2026-11-23/part-0.csv"}
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestCoverableDates: dates without rows are replaced (emptied) only in
// short runs; a long run, which one line with a wrong time opens between
// itself and the rest of the night, is left untouched and reported.
func TestCoverableDates(t *testing.T) {
	days := func(from string, n int) []string {
		d, err := time.Parse(time.DateOnly, from)
		if err != nil {
			t.Fatal(err)
		}
		var ds []string
		for range n {
			ds = append(ds, d.Format(time.DateOnly))
			d = d.AddDate(0, 0, 1)
		}
		return ds
	}
	for _, c := range []struct {
		name     string
		inRange  []string
		withRows []string
		cover    []string
		gaps     []schema.DateGap
	}{
		{"one night", days("2026-11-23", 2), days("2026-11-23", 2), days("2026-11-23", 2), nil},
		{"no rows at all", days("2026-11-23", 3), nil, days("2026-11-23", 3), nil},
		{"a quiet week is covered", days("2026-11-01", 9), []string{"2026-11-01", "2026-11-09"}, days("2026-11-01", 9), nil},
		{"eight quiet days are not", days("2026-11-01", 10), []string{"2026-11-01", "2026-11-10"},
			[]string{"2026-11-01", "2026-11-10"}, []schema.DateGap{{From: "2026-11-02", To: "2026-11-09"}}},
		{"an epoch-zero line before a night", days("1970-01-01", 20_418), []string{"1970-01-01", "2025-11-24", "2025-11-25"},
			[]string{"1970-01-01", "2025-11-24", "2025-11-25"}, []schema.DateGap{{From: "1970-01-02", To: "2025-11-23"}}},
		// The first and last dates hold the input's first and last lines.
		{"the range's ends bound runs like rows", days("2026-11-01", 12), []string{"2026-11-05"}, days("2026-11-01", 12), nil},
		{"a long run up to the last line", days("2026-11-01", 20), []string{"2026-11-03"},
			append(days("2026-11-01", 3), "2026-11-20"), []schema.DateGap{{From: "2026-11-04", To: "2026-11-19"}}},
	} {
		first, _ := time.Parse(time.DateOnly, c.inRange[0])
		last, _ := time.Parse(time.DateOnly, c.inRange[len(c.inRange)-1])
		cover, gaps := coverable(unixDay(first), unixDay(last), c.withRows)
		if !slices.Equal(cover, c.cover) {
			t.Errorf("%s: cover %d dates %v..., want %v", c.name, len(cover), cover[:min(len(cover), 5)], c.cover)
		}
		if !slices.Equal(gaps, c.gaps) {
			t.Errorf("%s: gaps %v, want %v", c.name, gaps, c.gaps)
		}
	}
}

// withRoomyParts sets how many partitions of a table are encoded as rows
// come (options.roomyParts).
func withRoomyParts(n int) Option { return func(o *options) { o.roomyParts = n } }

// TestSpooledPartitionsAreIdentical: partitions past a table's first
// roomyParts have their Parquet rows spooled to disk and encoded at the
// commit; the files must be byte for byte those of encoding as rows come,
// and the spools must be gone.
func TestSpooledPartitionsAreIdentical(t *testing.T) {
	rows := genWindows(6000, 7, day0, 12) // twelve dates, keys across all of them
	opt := WithPartition(PartitionDay, day0, day0.Add(12*24*time.Hour-time.Second))
	run := func(roomy int) map[string]string {
		dir := t.TempDir()
		writeTable(t, dir, "windows", []Format{CSV, Parquet}, rows, rowsManifest("rows", len(rows)), opt, withRoomyParts(roomy))
		return tree(t, dir)
	}
	streamed, spooled := run(1000), run(2)
	if len(spooled) < 24 || len(spooled) != len(streamed) {
		t.Fatalf("%d files spooled, %d streamed", len(spooled), len(streamed))
	}
	for name, content := range streamed {
		if spooled[name] != content {
			t.Errorf("%s differs when spooled", name)
		}
	}
	for name := range spooled {
		if strings.Contains(name, "spool") {
			t.Errorf("left behind: %s", name)
		}
	}
}

// TestPlannedFiles: what a dry run lists is what a set writes, dates
// aside.
func TestPlannedFiles(t *testing.T) {
	rows := genWindows(200, 2, day0, 2)
	dateDir := regexp.MustCompile(`date=\d{4}-\d\d-\d\d`)
	for _, c := range []struct {
		part    Partition
		formats []Format
		want    []string
	}{
		{NoPartition, []Format{CSV, Parquet}, []string{"windows.csv", "windows.parquet", "audit.csv", "audit.parquet", "manifest.json"}},
		{PartitionDay, []Format{Parquet}, []string{"windows/date=YYYY-MM-DD/part-0.parquet", "audit.parquet", "manifest.json"}},
	} {
		planned := PlannedFiles([]schema.Table{tableOf[winRow]("windows").Table, tableOf[testRow]("audit").Table}, c.formats, c.part)
		if !slices.Equal(planned, c.want) {
			t.Errorf("%q %v: planned %v, want %v", c.part, c.formats, planned, c.want)
		}
		dir := t.TempDir()
		set, err := NewSet(dir, c.formats, WithPartition(c.part, day0, day0.Add(2*24*time.Hour-time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		win, _ := NewTable(set, tableOf[winRow]("windows"))
		audit, _ := NewTable(set, tableOf[testRow]("audit"))
		for i := range rows {
			if err := win.Write(&rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := audit.Write(&testRow{Key: "k", N: 1}); err != nil {
			t.Fatal(err)
		}
		if err := set.Commit(context.Background(), &schema.Manifest{}); err != nil {
			t.Fatal(err)
		}
		var written []string
		for name := range tree(t, dir) {
			if name = dateDir.ReplaceAllString(name, "date=YYYY-MM-DD"); !slices.Contains(written, name) {
				written = append(written, name)
			}
		}
		slices.Sort(written)
		if want := slices.Sorted(slices.Values(planned)); !slices.Equal(written, want) {
			t.Errorf("%q %v: wrote %v, planned %v", c.part, c.formats, written, want)
		}
	}
}

// TestZeroTimeLineKeepsTheRange is the reproduction (issue 20,
// item 7): one line stamped with Go's zero time (01/Jan/0001) made the
// input's range count as unknown, so a re-run of the night no longer
// replaced a date's partition of a table whose rows had gone there: the
// old violation row stayed.
func TestZeroTimeLineKeepsTheRange(t *testing.T) {
	dir := t.TempDir()
	first, last := time.Time{}, day0.Add(2*24*time.Hour-time.Second)
	windows := genWindows(400, 2, day0, 2)
	run := func(violations []winRow) *Set {
		set, err := NewSet(dir, []Format{CSV}, WithPartition(PartitionDay, first, last))
		if err != nil {
			t.Fatal(err)
		}
		for name, rows := range map[string][]winRow{"windows": windows, "violations": violations} {
			tab, err := NewTable(set, tableOf[winRow](name))
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if err := tab.Write(&rows[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := set.Commit(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		return set
	}
	run(windows[:1])
	set := run(nil)
	if got := tree(t, dir)["violations/date=2026-11-23/part-0.csv"]; got != "key,limit_name,window_start,window_end,requests\n" {
		t.Errorf("the re-run left the violation row: %q", got)
	}
	dates, _, err := set.Dates()
	if want := []string{"0001-01-01", "2026-11-23", "2026-11-24"}; err != nil || !slices.Equal(dates, want) {
		t.Errorf("dates %v (%v), want %v", dates, err, want)
	}
	if want := []schema.DateGap{{From: "0001-01-02", To: "2026-11-22"}}; !slices.Equal(set.Gaps(), want) {
		t.Errorf("gaps %v, want %v", set.Gaps(), want)
	}
}

// Covering a range costs what its dates with rows do, not its length
// (issue 20, item 15): lines stamped 0001 and 9999 are 3.6 million dates
// apart.
func TestCoverableCostFollowsRows(t *testing.T) {
	first := unixDay(time.Time{})
	last := unixDay(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	rows := []string{"2026-11-23", "2026-11-24"}
	var cover []string
	allocs := testing.AllocsPerRun(10, func() { cover, _ = coverable(first, last, rows) })
	if want := []string{"0001-01-01", "2026-11-23", "2026-11-24", "9999-12-31"}; !slices.Equal(cover, want) {
		t.Errorf("cover %v, want %v", cover, want)
	}
	if allocs > 50 {
		t.Errorf("%v allocations for 4 dates", allocs)
	}
}
