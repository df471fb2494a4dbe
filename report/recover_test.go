package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyrate/keyrate/internal/treetest"
	"github.com/keyrate/keyrate/report/schema"
)

// stepFS is the OS file system with a fault at one of its steps, a step
// being any call that changes the file system (files' writes aside: a
// file's Sync and Close are one step each). It either dies there, as a
// process killed at that point would (that call and every later one,
// writes included, fail and change nothing: not even the cleanup
// happens), or fails that one call with EIO. It notes the step that
// renamed the journal into place: the commit point.
type stepFS struct {
	FS
	at     int  // the step that fails (1-based); 0: none
	die    bool // from step at on, everything fails
	steps  int
	commit int // the step that renamed the journal in; 0: none yet
	dead   bool
	// log, if set, receives each step's description.
	log func(step int, what string)
	// mu orders the steps: a set syncs and closes its files from
	// several goroutines at once.
	mu sync.Mutex
}

var errDead = errors.New("process is dead")

// step accounts for one change and says whether it may happen.
func (s *stepFS) step(what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return errDead
	}
	s.steps++
	if s.log != nil {
		s.log(s.steps, what)
	}
	if s.steps != s.at {
		return nil
	}
	if s.die {
		s.dead = true
		return errDead
	}
	return &os.PathError{Op: what, Path: "step", Err: syscall.EIO}
}

func (s *stepFS) CreateTemp(dir, pattern string) (File, error) {
	if err := s.step("createtemp " + pattern); err != nil {
		return nil, err
	}
	f, err := s.FS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &stepFile{File: f, fs: s}, nil
}

func (s *stepFS) MkdirTemp(dir, pattern string) (string, error) {
	if err := s.step("mkdirtemp " + pattern); err != nil {
		return "", err
	}
	return s.FS.MkdirTemp(dir, pattern)
}

func (s *stepFS) MkdirAll(p string, perm fs.FileMode) error {
	if err := s.step("mkdirall " + p); err != nil {
		return err
	}
	return s.FS.MkdirAll(p, perm)
}

func (s *stepFS) Rename(o, n string) error {
	if err := s.step("rename " + o + " " + n); err != nil {
		return err
	}
	if err := s.FS.Rename(o, n); err != nil {
		return err
	}
	if strings.HasSuffix(filepath.ToSlash(n), journalName) {
		s.mu.Lock()
		s.commit = s.steps
		s.mu.Unlock()
	}
	return nil
}

func (s *stepFS) Exchange(a, b string) error {
	if err := s.step("exchange " + a + " " + b); err != nil {
		return err
	}
	return s.FS.Exchange(a, b)
}

func (s *stepFS) Link(o, n string) error {
	if err := s.step("link " + o + " " + n); err != nil {
		return err
	}
	return s.FS.Link(o, n)
}

func (s *stepFS) Remove(name string) error {
	if err := s.step("remove " + name); err != nil {
		return err
	}
	return s.FS.Remove(name)
}

func (s *stepFS) RemoveAll(name string) error {
	if err := s.step("removeall " + name); err != nil {
		return err
	}
	return s.FS.RemoveAll(name)
}

func (s *stepFS) SyncDir(name string) error {
	if err := s.step("syncdir " + name); err != nil {
		return err
	}
	return s.FS.SyncDir(name)
}

type stepFile struct {
	File
	fs *stepFS
}

func (f *stepFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	dead := f.fs.dead
	f.fs.mu.Unlock()
	if dead {
		return 0, errDead
	}
	return f.File.Write(p)
}

func (f *stepFile) Sync() error {
	if err := f.fs.step("sync " + f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *stepFile) Close() error {
	if err := f.fs.step("close " + f.Name()); err != nil {
		f.File.Close() // a dead process's files are closed by the kernel
		return err
	}
	return f.File.Close()
}

// noExchangeFS is a file system that cannot exchange two names (not
// Linux, or a file system without RENAME_EXCHANGE).
type noExchangeFS struct{ FS }

func (noExchangeFS) Exchange(string, string) error { return errors.ErrUnsupported }

// fullTree maps every entry under dir, hidden ones included, to its
// content ("/" for a directory), by slash-separated relative path.
func fullTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			out[rel] = "/"
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withoutLeftovers is tree without what a commit's cleanup removes, and
// the next recovery does if it fails: the staging directory, the journal
// and an empty metadata directory.
func withoutLeftovers(tree map[string]string) map[string]string {
	out := maps.Clone(tree)
	maps.DeleteFunc(out, func(k, _ string) bool { return within(k, stagingDir) || k == journalName })
	if !slices.ContainsFunc(slices.Collect(maps.Keys(out)), func(k string) bool { return strings.HasPrefix(k, MetaDir+"/") }) {
		delete(out, MetaDir)
	}
	return out
}

// diffTree describes how got differs from want, for an error message.
func diffTree(got, want map[string]string) string { return treetest.Diff(got, want) }

// A commitCase is a previous state of a directory and a run into it.
type commitCase struct {
	name string
	old  func(dir string) error          // nil: the directory is empty
	run  func(dir string, fsys FS) error // the run under test

	once     sync.Once
	template string // the previous state, written once
	err      error
}

// dayRows are the rows of the windows table on day d (from day0), made
// from tag: the same tag gives the same rows, so the same partition.
func dayRows(d int, tag string) []winRow {
	rows := genWindows(40, 3, day0.AddDate(0, 0, d), 1)
	for i := range rows {
		rows[i].Key = tag + "-" + rows[i].Key
	}
	return rows
}

// writeDataset writes one run of a small dataset: the windows and
// violations tables on the given days (each from its tag), a partials
// partition and a checkpoint per day, the ledger, and removals.
func writeDataset(dir string, fsys FS, days map[int]string, tables []string, removes []string, ledger string, opts ...Option) error {
	var ds []int
	for d := range days {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	first := day0.AddDate(0, 0, ds[0])
	last := day0.AddDate(0, 0, ds[len(ds)-1]+1).Add(-time.Second)
	// CSV only: the commit does not care what the files hold, and the
	// tests below write hundreds of sets.
	set, err := NewSetFS(dir, []Format{CSV}, fsys, append(opts, WithPartition(PartitionDay, first, last))...)
	if err != nil {
		return err
	}
	fail := func(err error) error { set.Abort(); return err }
	for _, name := range tables {
		tab, err := NewTable(set, tableOf[winRow](name))
		if err != nil {
			return fail(err)
		}
		var rows []winRow
		for _, d := range ds {
			rows = append(rows, dayRows(d, days[d])...)
		}
		slices.SortStableFunc(rows, func(a, b winRow) int { return strings.Compare(a.Key, b.Key) })
		for i := range rows {
			if err := tab.Write(&rows[i]); err != nil {
				return fail(err)
			}
		}
	}
	for _, d := range ds {
		date := day0.AddDate(0, 0, d).Format(time.DateOnly)
		if err := set.WriteFile("partials/date="+date+"/part-0.parquet", []byte(days[d]+date)); err != nil {
			return fail(err)
		}
		if err := set.WriteFile("_keyrate/state/date="+date+".krs", []byte("state "+days[d])); err != nil {
			return fail(err)
		}
	}
	for _, r := range removes {
		if err := set.Remove(r); err != nil {
			return fail(err)
		}
	}
	if err := set.WriteFile("_keyrate/ledger.json", []byte(ledger)); err != nil {
		return fail(err)
	}
	return set.Commit(context.Background(), &schema.Manifest{Version: ledger})
}

var commitCases = []*commitCase{
	{name: "flat into an empty directory",
		run: func(dir string, fsys FS) error { return writeFaultSet(dir, fsys, 50, "new") }},
	{name: "flat, fewer formats than before",
		old: func(dir string) error { return writeFaultSet(dir, OSFS{}, 30, "old") },
		run: func(dir string, fsys FS) error {
			return writeSetIn(context.Background(), dir, fsys, []Format{CSV}, 50, "new")
		}},
	{name: "dataset into an empty directory",
		run: func(dir string, fsys FS) error {
			return writeDataset(dir, fsys, map[int]string{0: "a", 1: "a"}, []string{"windows"}, nil, "new")
		}},
	// Day 1 is unchanged, day 2 changes, day 3 is new, day 0's partials
	// and checkpoint go (retention), a table appears.
	{name: "dataset, a night",
		old: func(dir string) error {
			return writeDataset(dir, OSFS{}, map[int]string{0: "a", 1: "a", 2: "a"}, []string{"windows"}, nil, "old")
		},
		run: func(dir string, fsys FS) error {
			return writeDataset(dir, fsys, map[int]string{1: "a", 2: "b", 3: "b"}, []string{"windows", "violations"},
				[]string{"partials/date=2026-11-23", "_keyrate/state/date=2026-11-23.krs"}, "new")
		}},
}

// states returns a case's previous and new directory trees, from runs
// without faults.
func (c *commitCase) states(t *testing.T, fsys FS) (old, new map[string]string) {
	t.Helper()
	dir := c.prepare(t)
	old = fullTree(t, dir)
	if err := c.run(dir, fsys); err != nil {
		t.Fatal(err)
	}
	return old, fullTree(t, dir)
}

// prepare returns a new directory holding the case's previous state: a
// copy of one written once, since the tests below prepare hundreds.
func (c *commitCase) prepare(t *testing.T) string {
	t.Helper()
	c.once.Do(func() {
		// Kept for the whole test binary: TestMain removes it.
		if c.template, c.err = os.MkdirTemp("", "keyrate-template-"); c.err == nil {
			templatesMu.Lock()
			templates = append(templates, c.template)
			templatesMu.Unlock()
			if c.old != nil {
				c.err = c.old(c.template)
			}
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	dir := t.TempDir()
	err := filepath.WalkDir(c.template, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.template {
			return err
		}
		rel, _ := filepath.Rel(c.template, p)
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, rel), b, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// nosyncFS is the OS file system without fsync: the tests that kill a
// commit at every step count the syncs as steps but need not wait for
// the disk hundreds of times.
type nosyncFS struct{ OSFS }

func (nosyncFS) SyncDir(string) error { return nil }

func (f nosyncFS) CreateTemp(dir, pattern string) (File, error) {
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return nosyncFile{file}, nil
}

type nosyncFile struct{ File }

func (nosyncFile) Sync() error { return nil }

// TestCommitKilledAtEveryStep kills each case's run at every step of its
// commit, from the first staged file to the last cleanup, and recovers
// as the next run would: the directory then holds the previous output or
// the new one, entirely (issue 16; issue 20, item 13), and the new one
// whenever the kill came after the journal's rename. Without exchange
// (the fallback of two renames) as well.
func TestCommitKilledAtEveryStep(t *testing.T) {
	for i, c := range commitCases {
		for _, fsName := range []string{"exchange", "no exchange"} {
			if fsName == "no exchange" && i < len(commitCases)-1 {
				continue // the fallback matters for directories: the last case has all kinds
			}
			t.Run(c.name+", "+fsName, func(t *testing.T) {
				t.Parallel()
				base := func() FS { return nosyncFS{} }
				if fsName == "no exchange" {
					base = func() FS { return noExchangeFS{nosyncFS{}} }
				}
				old, new := c.states(t, base())
				if maps.Equal(old, new) {
					t.Fatal("the case changes nothing")
				}
				committed := 0
				for at := 1; ; at++ {
					dir := c.prepare(t)
					fsys := &stepFS{FS: base(), at: at, die: true}
					err := c.run(dir, fsys)
					if !fsys.dead {
						if err != nil {
							t.Fatalf("undisturbed run: %v", err)
						}
						if committed == 0 {
							t.Fatal("no step renamed the journal in")
						}
						t.Logf("killed at each of %d steps, %d after the commit point", at-1, committed)
						break // every step was a kill point
					}
					if fsys.commit > 0 {
						committed++
					}
					rec, err := Recover(dir)
					if err != nil {
						t.Fatalf("killed at step %d: Recover: %v", at, err)
					}
					got := fullTree(t, dir)
					switch {
					case fsys.commit > 0 && !maps.Equal(got, new):
						t.Errorf("killed at step %d, after the commit point, recovery (%v) gave %s", at, rec, diffTree(got, new))
					case !maps.Equal(got, old) && !maps.Equal(got, new):
						t.Errorf("killed at step %d, recovery (%v) gave neither state: %s", at, rec, diffTree(got, old))
					}
				}
			})
		}
	}
}

// TestCommitFailsAtEveryStep fails each step of each case's run once
// with EIO (a disk error, a full disk): Commit's error then means the
// previous output, an *IncompleteCommitError that the next recovery
// completes the new one, and success the new one. Either way nothing is
// left but what Recover removes.
func TestCommitFailsAtEveryStep(t *testing.T) {
	for _, c := range commitCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			old, new := c.states(t, nosyncFS{})
			for at := 1; ; at++ {
				dir := c.prepare(t)
				fsys := &stepFS{FS: nosyncFS{}, at: at}
				err := c.run(dir, fsys)
				if fsys.steps < at {
					break // no step failed: every one was tried
				}
				got := fullTree(t, dir)
				var incomplete *IncompleteCommitError
				want, state := old, "the previous"
				if err == nil || errors.As(err, &incomplete) {
					want, state = new, "the new"
				}
				// Only the cleanup after the commit may have failed: what
				// is left is the next recovery's.
				if err == nil && !maps.Equal(withoutLeftovers(got), new) {
					t.Errorf("step %d failed, Commit succeeded, the directory holds %s", at, diffTree(got, new))
				}
				if _, err := Recover(dir); err != nil {
					t.Fatalf("step %d failed: Recover: %v", at, err)
				}
				if got := fullTree(t, dir); !maps.Equal(got, want) {
					t.Errorf("step %d failed (Commit: %v): want %s output, got %s", at, err, state, diffTree(got, want))
				}
			}
		})
	}
}

// TestCommitInstallsOnlyWhatChanged: a partition or file whose new bytes
// are the installed ones is not touched (same inode, not in the
// journal), so unchanged dates keep their files and readers never see
// them move.
func TestCommitInstallsOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	if err := writeDataset(dir, OSFS{}, map[int]string{0: "a", 1: "a", 2: "a"}, []string{"windows"}, nil, "old"); err != nil {
		t.Fatal(err)
	}
	ino := func(rel string) uint64 {
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := fileID(fi)
		return id
	}
	kept := []string{"windows/date=2026-11-24", "partials/date=2026-11-24", "_keyrate/state/date=2026-11-24.krs"}
	changed := []string{"windows/date=2026-11-25", "partials/date=2026-11-25", "_keyrate/state/date=2026-11-25.krs", "_keyrate/ledger.json"}
	before := map[string]uint64{}
	for _, rel := range append(kept, changed...) {
		before[rel] = ino(rel)
	}
	var logged []string
	fsys := &stepFS{FS: OSFS{}, log: func(_ int, what string) { logged = append(logged, what) }}
	if err := writeDataset(dir, fsys, map[int]string{1: "a", 2: "b"}, []string{"windows"}, []string{"partials/date=2026-11-23"}, "new"); err != nil {
		t.Fatal(err)
	}
	for _, rel := range kept {
		if ino(rel) != before[rel] {
			t.Errorf("%s was replaced, though its bytes did not change", rel)
		}
		for _, what := range logged {
			if strings.Contains(what, rel) && !strings.Contains(what, stagingDir) {
				t.Errorf("%s was touched: %s", rel, what)
			}
		}
	}
	for _, rel := range changed {
		if ino(rel) == before[rel] {
			t.Errorf("%s was not replaced", rel)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "partials/date=2026-11-23")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed partition still there: %v", err)
	}
	// What Stage reports.
	set, err := NewSet(dir, []Format{CSV})
	if err != nil {
		t.Fatal(err)
	}
	set.WriteFile("_keyrate/ledger.json", []byte("new"))
	set.WriteFile("_keyrate/dataset.json", []byte("{}"))
	set.WriteFile("partials/date=2026-11-25/part-0.parquet", []byte("changed"))
	set.WriteFile("partials/date=2026-11-25/part-1.parquet", []byte("b2026-11-25"))
	set.Remove("partials/date=2026-11-24")
	set.Remove("partials/date=2000-01-01")
	ch, err := set.Stage()
	set.Abort()
	want := Changes{
		Written:   []string{"_keyrate/dataset.json", "partials/date=2026-11-25"},
		Unchanged: []string{"_keyrate/ledger.json"},
		Removed:   []string{"partials/date=2026-11-24"},
	}
	if err != nil || !slices.Equal(ch.Written, want.Written) || !slices.Equal(ch.Unchanged, want.Unchanged) || !slices.Equal(ch.Removed, want.Removed) {
		t.Errorf("Stage = %+v, %v; want %+v", ch, err, want)
	}
}

// The reproduction (issue 20, item 2): recovery deleted any
// .NAME.tmp-DIGITS in --out and, with a .manifest.json.tmp-N present,
// renamed any .X.tmp-N.prev over X. Files keyrate did not write survive
// it now, whatever their names, beside a killed run's leftovers.
func TestRecoverTouchesOnlyItsOwn(t *testing.T) {
	dir := t.TempDir()
	if err := writeFaultSet(dir, OSFS{}, 10, "old"); err != nil {
		t.Fatal(err)
	}
	others := map[string]string{
		".notes.txt.tmp-20261123":   "my notes",
		"important.txt":             "important",
		".important.txt.tmp-5.prev": "an old copy",
		".manifest.json.tmp-9":      "{",
		".a.csv.tmp-17.prev":        "key,old\n",
	}
	for name, content := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := fullTree(t, dir)
	// A run killed after its commit point, and one killed before.
	for _, at := range []int{0, 1} {
		fsys := &stepFS{FS: OSFS{}, die: true}
		if at == 0 {
			fsys.log = func(step int, what string) {
				if strings.HasPrefix(what, "exchange") && fsys.at == 0 {
					fsys.at = step + 1
				}
			}
		} else {
			fsys.at = 9
		}
		writeFaultSet(dir, fsys, 20, "new")
		if _, err := Recover(dir); err != nil {
			t.Fatal(err)
		}
	}
	after := fullTree(t, dir)
	for name, content := range others {
		if after[name] != content {
			t.Errorf("%s: %q after recovery, want %q", name, after[name], content)
		}
	}
	if strings.Contains(after["a.csv"], "old-key") || maps.Equal(before, after) {
		t.Error("the run killed after its commit point was not completed")
	}
}

// The second reproduction (issue 20, item 13): a kill during the
// swap of many partitions left some dates new and some old, with the
// old manifest, after recovery. Killed after each exchange, the
// directory is always entirely the new run's.
func TestKillDuringPartitionSwap(t *testing.T) {
	old := map[int]string{}
	new := map[int]string{}
	for d := range 8 {
		old[d], new[d] = "old", "new"
	}
	c := &commitCase{
		old: func(dir string) error {
			return writeDataset(dir, OSFS{}, old, []string{"windows", "violations"}, nil, "old")
		},
		run: func(dir string, fsys FS) error {
			return writeDataset(dir, fsys, new, []string{"windows", "violations"}, nil, "new")
		},
	}
	_, want := c.states(t, nosyncFS{})
	var exchanges []int
	count := &stepFS{FS: nosyncFS{}, log: func(step int, what string) {
		if strings.HasPrefix(what, "exchange") {
			exchanges = append(exchanges, step)
		}
	}}
	if err := c.run(c.prepare(t), count); err != nil {
		t.Fatal(err)
	}
	if len(exchanges) < 16 {
		t.Fatalf("%d exchanges, want one per partition", len(exchanges))
	}
	for _, at := range exchanges {
		dir := c.prepare(t)
		c.run(dir, &stepFS{FS: nosyncFS{}, at: at + 1, die: true})
		if _, err := Recover(dir); err != nil {
			t.Fatal(err)
		}
		if got := fullTree(t, dir); !maps.Equal(got, want) {
			t.Errorf("killed after the exchange at step %d: %s", at, diffTree(got, want))
		}
	}
}

// A journal that names paths outside the output directory, or outside
// the run's staging directory, is not keyrate's: recovery refuses it and
// changes nothing.
func TestRecoverRefusesForeignJournal(t *testing.T) {
	for _, body := range []string{
		`{"format":1,"run":"run-1","ops":[{"remove":["../victim",1]}]}`,
		`{"format":1,"run":"run-1","ops":[{"exchange":[".keyrate-staging/run-1/../../x","x",1]}]}`,
		`{"format":1,"run":"run-1","ops":[{"exchange":[".keyrate-staging/run-2/a.csv","a.csv",1]}]}`,
		`{"format":1,"run":"..","ops":[]}`,
		`{"format":1,"run":"run-1","ops":[{"remove":["/etc/passwd",1]}]}`,
		`{"format":1,"run":"run-1","ops":[{"remove":[".keyrate.lock",1]}]}`,
		`{"format":1,"run":"run-1","ops":[{"rename":["a","b"]}]}`,
		`{"format":2,"run":"run-1","ops":[]}`,
		`{"format":1,"run":"run-1","ops":[{"remove":["a.csv",1]}]`,
	} {
		base := t.TempDir()
		victim := filepath.Join(base, "victim")
		os.WriteFile(victim, []byte("precious"), 0o644)
		dir := filepath.Join(base, "out")
		if err := writeFaultSet(dir, OSFS{}, 10, "old"); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, stagingDir, "run-1"), 0o755)
		os.MkdirAll(filepath.Join(dir, MetaDir), 0o755)
		os.WriteFile(filepath.Join(dir, journalName), []byte(body), 0o644)
		before := fullTree(t, base)
		_, err := Recover(dir)
		var je *JournalError
		if !errors.As(err, &je) || !strings.Contains(err.Error(), journalName) {
			t.Errorf("journal %s: Recover: %v, want a *JournalError naming it", body, err)
		}
		if got := fullTree(t, base); !maps.Equal(got, before) {
			t.Errorf("journal %s: Recover changed %s", body, diffTree(got, before))
		}
	}
}

// Recovery never acts through a symbolic link in the output directory:
// a staging or metadata directory that is one is refused, its target
// untouched (issue 20, item 1).
func TestRecoverRefusesLinks(t *testing.T) {
	for _, name := range []string{stagingDir, MetaDir} {
		base := t.TempDir()
		elsewhere := filepath.Join(base, "elsewhere")
		os.MkdirAll(filepath.Join(elsewhere, "run-1"), 0o755)
		os.WriteFile(filepath.Join(elsewhere, "journal.json"), []byte(`{"format":1,"run":"run-1","ops":[]}`), 0o644)
		dir := filepath.Join(base, "out")
		os.Mkdir(dir, 0o755)
		if err := os.Symlink(elsewhere, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		before := fullTree(t, base)
		_, err := Recover(dir)
		var ue *UnsafePathError
		if !errors.As(err, &ue) || ue.Path != filepath.Join(dir, name) {
			t.Errorf("%s a link: Recover: %v, want an *UnsafePathError naming it", name, err)
		}
		if got := fullTree(t, base); !maps.Equal(got, before) {
			t.Errorf("%s a link: Recover changed %s", name, diffTree(got, before))
		}
	}
}

// A journal's changes are redone through no link either: a table
// directory replaced by a link after the commit point is refused.
func TestRecoverRefusesLinkOnTheWay(t *testing.T) {
	dir := t.TempDir()
	if err := writeDataset(dir, OSFS{}, map[int]string{0: "a"}, []string{"windows"}, nil, "old"); err != nil {
		t.Fatal(err)
	}
	var fsys *stepFS
	fsys = &stepFS{FS: OSFS{}, die: true, log: func(step int, what string) {
		if fsys.commit > 0 && fsys.at == 0 {
			fsys.at = step // die at the first change after the commit point
		}
	}}
	writeDataset(dir, fsys, map[int]string{0: "b"}, []string{"windows"}, nil, "new")
	if fsys.commit == 0 {
		t.Fatal("the run did not get to its commit point")
	}
	elsewhere := t.TempDir()
	os.Rename(filepath.Join(dir, "windows"), filepath.Join(elsewhere, "windows"))
	os.Symlink(filepath.Join(elsewhere, "windows"), filepath.Join(dir, "windows"))
	before := fullTree(t, elsewhere)
	_, err := Recover(dir)
	var ue *UnsafePathError
	if !errors.As(err, &ue) || ue.Path != filepath.Join(dir, "windows") {
		t.Errorf("Recover: %v, want an *UnsafePathError naming the link", err)
	}
	if got := fullTree(t, elsewhere); !maps.Equal(got, before) {
		t.Errorf("written through the link: %s", diffTree(got, before))
	}
}

// A set refuses to write, replace or remove through a symbolic link in
// its directory, naming the link, and leaves its target alone.
func TestSetRefusesLinkedPaths(t *testing.T) {
	cases := []struct {
		name, link string
		do         func(*Set) error
	}{
		{"metadata directory", MetaDir, func(s *Set) error { return s.WriteFile("_keyrate/ledger.json", []byte("x")) }},
		{"removed partition", "partials/date=2026-11-23", func(s *Set) error { return s.Remove("partials/date=2026-11-23") }},
		{"directory above a removal", "partials", func(s *Set) error { return s.Remove("partials/date=2026-11-23") }},
		{"file written", "_keyrate/ledger.json", func(s *Set) error { return s.WriteFile("_keyrate/ledger.json", []byte("x")) }},
		{"journal", journalName, func(s *Set) error { return s.WriteFile("_keyrate/ledger.json", []byte("x")) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			elsewhere := filepath.Join(base, "elsewhere")
			os.MkdirAll(filepath.Join(elsewhere, "date=2026-11-23"), 0o755)
			os.WriteFile(filepath.Join(elsewhere, "date=2026-11-23", "x"), []byte("precious"), 0o644)
			link := filepath.Join(dir, filepath.FromSlash(c.link))
			os.MkdirAll(filepath.Dir(link), 0o755)
			if err := os.Symlink(elsewhere, link); err != nil {
				t.Fatal(err)
			}
			before := fullTree(t, base)
			set, err := NewSet(dir, []Format{CSV})
			if err != nil {
				t.Fatal(err)
			}
			err = c.do(set)
			if err == nil {
				err = set.Commit(context.Background(), nil)
			} else {
				set.Abort()
			}
			var ue *UnsafePathError
			if !errors.As(err, &ue) || ue.Path != link || !strings.Contains(err.Error(), link) {
				t.Fatalf("%v, want an *UnsafePathError naming %s", err, link)
			}
			if got := fullTree(t, base); !maps.Equal(got, before) {
				t.Errorf("changed %s", diffTree(got, before))
			}
		})
	}
}

// TestSetPaths: what Create, WriteFile and Remove accept.
func TestSetPaths(t *testing.T) {
	dir := t.TempDir()
	set, err := NewSet(dir, []Format{CSV})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	for _, bad := range []string{"", "/etc/x", "../x", "a/../b", "a//b", "./a", ".hidden", "a/.b", journalName, `a\b`} {
		if err := set.WriteFile(bad, nil); err == nil {
			t.Errorf("WriteFile(%q) accepted", bad)
		}
		if err := set.Remove(bad); err == nil {
			t.Errorf("Remove(%q) accepted", bad)
		}
	}
	if err := set.WriteFile("partials/date=2026-11-23/part-0.parquet", nil); err != nil {
		t.Fatal(err)
	}
	if err := set.WriteFile("partials/date=2026-11-23/part-0.parquet", nil); err == nil {
		t.Error("the same file written twice")
	}
	if err := set.Remove("partials"); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Stage(); err == nil || !strings.Contains(err.Error(), "both written and removed") {
		t.Errorf("removing a directory the set writes into: %v", err)
	}
}

// TestReadersSeeWholePartitions: a reader globbing the partitions while
// commits replace them sees, per partition, the files of one run, never
// two runs' files side by side (it reads through the partition's
// directory handle, as engines listing then reading a directory do).
func TestReadersSeeWholePartitions(t *testing.T) {
	dir := t.TempDir()
	write := func(gen int) error {
		set, err := NewSetFS(dir, []Format{CSV}, nosyncFS{})
		if err != nil {
			return err
		}
		for d := range 8 {
			for _, f := range []string{"a.txt", "b.txt", "c.txt"} {
				if err := set.WriteFile(fmt.Sprintf("t/date=2026-11-%02d/%s", d+1, f), []byte(fmt.Sprint(gen))); err != nil {
					set.Abort()
					return err
				}
			}
		}
		return set.Commit(context.Background(), nil)
	}
	if err := write(0); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mixed, reads, absent int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			parts, _ := filepath.Glob(filepath.Join(dir, "t", "*"))
			if len(parts) != 8 {
				absent++
			}
			for _, p := range parts {
				root, err := os.OpenRoot(p)
				if err != nil {
					continue
				}
				var seen []string
				for _, f := range []string{"a.txt", "b.txt", "c.txt"} {
					b, err := root.ReadFile(f)
					if err == nil {
						seen = append(seen, string(b))
					}
				}
				root.Close()
				reads++
				if len(slices.Compact(seen)) > 1 {
					mixed++
				}
			}
		}
	})
	for gen := 1; gen <= 40; gen++ {
		if err := write(gen); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if mixed > 0 {
		t.Errorf("%d of %d partition reads saw files of two runs", mixed, reads)
	}
	if absent > 0 && exchangeWorks(t) {
		t.Errorf("%d globs missed a partition, though names are exchanged atomically here", absent)
	}
	t.Logf("%d partition reads", reads)
}

// exchangeWorks reports whether this system exchanges names atomically.
func exchangeWorks(t *testing.T) bool {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	return exchange(a, b) == nil
}

// TestRollbackRestoresEverything: a change failing after the commit
// point undoes those made before it, with or without exchange and hard
// links, so the directory is the previous output, and no journal stays.
func TestRollbackRestoresEverything(t *testing.T) {
	c := commitCases[3]
	for _, name := range []string{"exchange", "no exchange"} {
		t.Run(name, func(t *testing.T) {
			base := func() FS { return OSFS{} }
			if name == "no exchange" {
				base = func() FS { return noExchangeFS{OSFS{}} }
			}
			old, _ := c.states(t, base())
			// Fail the last rename: the manifest's install.
			var renames []int
			probe := &stepFS{FS: base(), log: func(step int, what string) {
				if strings.HasPrefix(what, "rename") || strings.HasPrefix(what, "exchange") {
					renames = append(renames, step)
				}
			}}
			dir := c.prepare(t)
			if err := c.run(dir, probe); err != nil {
				t.Fatal(err)
			}
			dir = c.prepare(t)
			err := c.run(dir, &stepFS{FS: base(), at: renames[len(renames)-1]})
			if err == nil || !strings.Contains(err.Error(), "installing manifest.json") {
				t.Fatalf("Commit: %v, want the manifest's failure", err)
			}
			if got := fullTree(t, dir); !maps.Equal(got, old) {
				t.Errorf("after the rollback: %s", diffTree(got, old))
			}
		})
	}
}

// noLinkNoExchangeFS can neither exchange names nor link files: a file's
// old version then cannot be kept, and a failure after it was replaced
// leaves the commit for recovery to complete.
type noLinkNoExchangeFS struct{ noExchangeFS }

func (noLinkNoExchangeFS) Link(o, n string) error {
	return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EPERM}
}

func TestIncompleteCommitIsCompleted(t *testing.T) {
	c := commitCases[1]
	_, new := c.states(t, OSFS{})
	var renames []int
	probe := &stepFS{FS: noLinkNoExchangeFS{}, log: func(step int, what string) {
		if strings.HasPrefix(what, "rename") {
			renames = append(renames, step)
		}
	}}
	probe.FS = noLinkNoExchangeFS{noExchangeFS{OSFS{}}}
	if err := c.run(c.prepare(t), probe); err != nil {
		t.Fatal(err)
	}
	dir := c.prepare(t)
	err := c.run(dir, &stepFS{FS: noLinkNoExchangeFS{noExchangeFS{OSFS{}}}, at: renames[len(renames)-1]})
	var incomplete *IncompleteCommitError
	if !errors.As(err, &incomplete) || !strings.Contains(err.Error(), "the next keyrate run on "+dir+" completes it") {
		t.Fatalf("Commit: %v, want an *IncompleteCommitError", err)
	}
	rec, err := Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fullTree(t, dir); !maps.Equal(got, new) {
		t.Errorf("after recovery: %s", diffTree(got, new))
	}
	if s := rec.String(); !strings.Contains(s, "completed the commit of a killed run (1 of its 5 changes were left to make)") {
		t.Errorf("recovery said %q", s)
	}
}

// TestRecoverRemovesStaging: a run killed while writing leaves its
// staging directory (partitions, row spools); the next run's Recover
// (under the lock, so no run is using it) removes it, and nothing else.
func TestRecoverRemovesStaging(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, stagingDir, "run-1", "windows", "date=2026-11-23")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, stagingDir, "run-1", ".spool-1"), make([]byte, 1<<20), 0o644)
	os.WriteFile(filepath.Join(part, "part-0.csv"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "windows.csv"), []byte("kept"), 0o644)
	rec, err := Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Removed) != 1 || rec.Removed[0] != filepath.Join(dir, stagingDir) || rec.Journal {
		t.Errorf("recovery %+v: want the staging directory removed", rec)
	}
	if got := keys(fullTree(t, dir)); strings.Join(got, " ") != "windows.csv" {
		t.Errorf("left %v", got)
	}
	if s := rec.String(); s != "removed "+filepath.Join(dir, stagingDir) {
		t.Errorf("recovery said %q", s)
	}
}
