package report

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Recovery says what Recover did.
type Recovery struct {
	// Completed lists the paths, relative to the directory, that a
	// committed run had not yet put in place and recovery did; Changes
	// is how many changes that run's journal listed. Both are zero when
	// there was no journal.
	Completed []string
	Changes   int
	Journal   bool     // a committed run's journal was found and completed
	Removed   []string // staging directories deleted
}

// Recover finishes or discards what a run killed without a chance to
// clean up (SIGKILL, a crash, power loss) left in dir. Call it only while
// holding the directory's Lock.
//
// It goes by the commit journal alone: when _keyrate/journal.json is
// there, the dead run had committed, and every change the journal lists
// that is not yet made is made, so dir holds that run's output entirely;
// then (or when there is no journal) the staging directory is deleted,
// which leaves dir as the last committed run left it. Recover touches no
// other name: files that look temporary (".notes.txt.tmp-1") are not
// keyrate's unless the journal or the staging directory holds them.
func Recover(dir string) (Recovery, error) { return RecoverFS(dir, OSFS{}) }

// RecoverFS is Recover working through fsys.
func RecoverFS(dir string, fsys FS) (Recovery, error) {
	var rec Recovery
	for _, p := range []string{MetaDir, stagingDir} {
		if err := refuseLinks(fsys, dir, p); err != nil {
			return rec, err
		}
	}
	j, ok, err := readJournal(fsys, dir)
	if err != nil {
		return rec, err
	}
	if ok {
		rec.Journal, rec.Changes = true, len(j.Ops)
		a := &applier{fs: fsys, dir: dir, run: stagingDir + "/" + j.Run, synced: map[string]bool{}}
		failed := func(err error) error {
			return fmt.Errorf("completing the commit of a killed run (%s): %w", quotePath(filepath.Join(dir, journalName)), err)
		}
		for _, o := range j.Ops {
			done, err := a.done(o)
			if err != nil {
				return rec, failed(err)
			}
			if done {
				continue
			}
			if err := a.do(o); err != nil {
				return rec, failed(err)
			}
			rec.Completed = append(rec.Completed, o.final)
		}
		if err := a.sync(); err != nil {
			return rec, failed(err)
		}
		meta := filepath.Join(dir, MetaDir)
		if err := fsys.Remove(filepath.Join(dir, filepath.FromSlash(journalName))); err != nil {
			return rec, err
		}
		if err := fsys.SyncDir(meta); err != nil {
			return rec, err
		}
	}
	staging := filepath.Join(dir, stagingDir)
	if _, err := fsys.Lstat(staging); err == nil {
		// No run is using it: the caller holds the lock. It holds what
		// the dead run wrote (its partitions, spools, the versions its
		// commit replaced), possibly hundreds of MiB.
		if err := fsys.RemoveAll(staging); err != nil {
			return rec, err
		}
		rec.Removed = append(rec.Removed, staging)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return rec, err
	}
	removeIfEmpty(fsys, filepath.Join(dir, MetaDir))
	return rec, nil
}

// removeIfEmpty removes the directory p if it is empty: the metadata
// directory a flat output's commit made for its journal alone.
func removeIfEmpty(fsys FS, p string) {
	if ents, err := fsys.ReadDir(p); err == nil && len(ents) == 0 {
		fsys.Remove(p)
	}
}

// String summarizes a recovery for a log line ("" when nothing was done).
func (r Recovery) String() string {
	var parts []string
	if r.Journal {
		parts = append(parts, fmt.Sprintf("completed the commit of a killed run (%d of its %d changes were left to make)",
			len(r.Completed), r.Changes))
	}
	if len(r.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(r.Removed, ", "))
	}
	return strings.Join(parts, "; ")
}
