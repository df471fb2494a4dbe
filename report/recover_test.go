package report

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dyingFS stops performing file-system changes after `left` of them, as
// a process killed at that point would: nothing after it happens, not
// even the cleanup.
type dyingFS struct {
	OSFS
	left int
}

var errDead = errors.New("process is dead")

func (d *dyingFS) step() bool {
	if d.left <= 0 {
		return false
	}
	d.left--
	return true
}

func (d *dyingFS) Rename(o, n string) error {
	if !d.step() {
		return errDead
	}
	return d.OSFS.Rename(o, n)
}

func (d *dyingFS) Link(o, n string) error {
	if !d.step() {
		return errDead
	}
	return d.OSFS.Link(o, n)
}

func (d *dyingFS) Remove(name string) error {
	if !d.step() {
		return errDead
	}
	return d.OSFS.Remove(name)
}

// TestRecoverAfterKillAtEveryStep kills a commit after each possible
// number of link/rename/remove steps and checks that Recover leaves
// exactly one complete set: the previous one, or the new one if its
// manifest was already in place.
func TestRecoverAfterKillAtEveryStep(t *testing.T) {
	// Record the new set's content once, from an undisturbed commit.
	ref := t.TempDir()
	if err := writeFaultSet(ref, OSFS{}, 50, "new"); err != nil {
		t.Fatal(err)
	}
	newSet := snapshot(t, ref)
	for steps := 0; ; steps++ {
		dir := t.TempDir()
		if err := writeFaultSet(dir, OSFS{}, 30, "old"); err != nil {
			t.Fatal(err)
		}
		oldSet := snapshot(t, dir)
		fsys := &dyingFS{left: steps}
		err := writeFaultSet(dir, fsys, 50, "new")
		if err == nil && fsys.left > 0 {
			break // the commit needed fewer steps: every point covered
		}
		// err == nil: it died while deleting the backups, after the set
		// was in place.
		rec, rerr := Recover(dir)
		if rerr != nil {
			t.Fatalf("after %d steps: Recover: %v", steps, rerr)
		}
		got := snapshot(t, dir)
		if !maps.Equal(got, oldSet) && !maps.Equal(got, newSet) {
			t.Errorf("after %d steps and recovery (%v) the directory holds neither set: %v", steps, rec, keys(got))
		}
		if steps >= 10 && !maps.Equal(got, newSet) { // 5 links + 5 renames: the manifest is in
			t.Errorf("after %d steps the new set was complete but recovery gave %v", steps, keys(got))
		}
		if steps == 0 && !maps.Equal(got, oldSet) {
			t.Errorf("killed before any rename, recovery did not keep the previous set")
		}
	}
}

func TestRecoverIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".keep", "notes.tmp-1", ".x.tmp-abc", "windows.csv"} {
		os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644)
	}
	os.WriteFile(filepath.Join(dir, ".windows.csv.tmp-42"), []byte("partial"), 0o644)
	rec, err := Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Removed) != 1 || !strings.HasSuffix(rec.Removed[0], ".windows.csv.tmp-42") || len(rec.Restored) != 0 {
		t.Errorf("recovery %+v: want only the temp file removed", rec)
	}
	if got := keys(snapshot(t, dir)); strings.Join(got, " ") != ".keep .x.tmp-abc notes.tmp-1 windows.csv" {
		t.Errorf("left %v", got)
	}
}

// TestRecoverRemovesStaging: a run killed while writing partitions leaves
// them, and their row spools, in the staging directory; the next run's
// Recover (under the lock, so no run is using it) removes it.
func TestRecoverRemovesStaging(t *testing.T) {
	dir := t.TempDir()
	part := filepath.Join(dir, stagingDir, "windows.date=2026-11-23.tmp-1")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(part, ".spool"), make([]byte, 1<<20), 0o644)
	os.WriteFile(filepath.Join(dir, "windows.csv"), []byte("kept"), 0o644)
	rec, err := Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Removed) != 1 || rec.Removed[0] != filepath.Join(dir, stagingDir) {
		t.Errorf("recovery %+v: want the staging directory removed", rec)
	}
	if got := keys(snapshot(t, dir)); strings.Join(got, " ") != "windows.csv" {
		t.Errorf("left %v", got)
	}
}
