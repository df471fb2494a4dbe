package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// leftover matches the names createPending and install give files:
// ".NAME.tmp-RANDOM" and its ".prev" backup of the file NAME replaced.
var leftover = regexp.MustCompile(`^\.(.+)\.tmp-[0-9]+(\.prev)?$`)

// Recovery says what Recover did.
type Recovery struct {
	Removed  []string // temporary files and obsolete backups deleted
	Restored []string // report files put back to their previous version
}

// Recover cleans up after a run that was killed without a chance to clean
// up (SIGKILL, a crash, power loss), which can leave temporary files, the
// staging directory of its partitions and, if it died while renaming its
// set into place, a mix of new and previous report files. Call it only
// while holding the directory's Lock.
//
// The manifest is renamed last, so a manifest temporary file still present
// means the dead run had not finished installing: every backup is renamed
// back over its report, restoring the previous set. Otherwise the new set
// was complete and backups are merely deleted.
func Recover(dir string) (Recovery, error) { return RecoverFS(dir, OSFS{}) }

// RecoverFS is Recover working through fsys.
func RecoverFS(dir string, fsys FS) (Recovery, error) {
	var rec Recovery
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return rec, err
	}
	var temps, backups []string
	unfinished := false
	for _, e := range ents {
		m := leftover.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		if m[2] != "" {
			backups = append(backups, e.Name())
			continue
		}
		temps = append(temps, e.Name())
		if m[1] == manifestName {
			unfinished = true
		}
	}
	for _, name := range backups {
		p := filepath.Join(dir, name)
		final := filepath.Join(dir, leftover.FindStringSubmatch(name)[1])
		if unfinished && !sameFile(fsys, p, final) {
			if err := fsys.Rename(p, final); err != nil {
				return rec, err
			}
			rec.Restored = append(rec.Restored, final)
			continue
		}
		if err := fsys.Remove(p); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, p)
	}
	for _, name := range temps {
		p := filepath.Join(dir, name)
		if err := fsys.Remove(p); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, p)
	}
	// Partitions the dead run wrote aside, and their spools (which can
	// be hundreds of MiB): no run is using them, since the caller holds
	// the lock.
	staging := filepath.Join(dir, stagingDir)
	if _, err := fsys.Lstat(staging); err == nil {
		if err := fsys.RemoveAll(staging); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, staging)
	}
	return rec, nil
}

// String summarizes a recovery for a log line ("" when nothing was done).
func (r Recovery) String() string {
	var parts []string
	if len(r.Restored) > 0 {
		parts = append(parts, "restored "+strings.Join(r.Restored, ", "))
	}
	if len(r.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(r.Removed, ", "))
	}
	return strings.Join(parts, "; ")
}

// sameFile reports whether a and b are links to one file: a backup made
// just before the run died, whose report was not replaced yet. (Renaming
// one link over another of the same file does nothing, so it must be
// removed instead.)
func sameFile(fsys FS, a, b string) bool {
	sa, err1 := fsys.Stat(a)
	sb, err2 := fsys.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
