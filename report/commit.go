package report

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// install makes the staged set the directory's content: it syncs the
// staged tree, writes the journal (the commit point), makes the changes
// and removes the journal and the staging directory.
func (s *Set) install() error {
	if len(s.ops) == 0 {
		s.removeStaging()
		return nil
	}
	s.mu.Lock()
	run, err := s.stagingRun() // a set that only removes has staged nothing
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.syncStaged(); err != nil {
		return err
	}
	if err := s.writeJournal(run); err != nil {
		return err
	}
	a := &applier{fs: s.fs, dir: s.dir, run: relTo(s.dir, run), keepOld: true, synced: map[string]bool{}}
	err = s.apply(a)
	if err == nil {
		err = a.sync()
	}
	if err != nil {
		return s.rollback(a, err)
	}
	// The set is in place, durably. What follows is cleanup: should it
	// fail, the next run's recovery finds every change made and only
	// removes the journal and the staging directory.
	if s.fs.Remove(s.abs(journalName)) == nil {
		s.fs.SyncDir(s.abs(MetaDir))
	}
	s.removeStaging()
	return nil
}

func (s *Set) apply(a *applier) error {
	for _, o := range s.ops {
		if err := a.do(o); err != nil {
			return fmt.Errorf("installing %s: %w", o.final, err)
		}
	}
	return nil
}

// rollback undoes the changes a failed commit made after its commit
// point, and then the commit itself by removing its journal. Should
// that fail, the journal stays, and with it the commit: the next run's
// recovery completes it.
func (s *Set) rollback(a *applier, cause error) error {
	incomplete := func(err error) error {
		return &IncompleteCommitError{Dir: s.dir, Err: fmt.Errorf("%w (and undoing it: %w)", cause, err)}
	}
	if err := a.rollback(); err != nil {
		return incomplete(err)
	}
	// The undoing must be durable before the journal goes: otherwise a
	// power loss could bring back some of the changes without the
	// journal that would complete them.
	if err := a.sync(); err != nil {
		return incomplete(err)
	}
	if err := s.fs.Remove(s.abs(journalName)); err != nil {
		return incomplete(err)
	}
	s.fs.SyncDir(s.abs(MetaDir))
	s.removeStaging()
	return cause
}

// syncStaged syncs every staged directory that holds something the
// commit installs, and those leading to it, so that the journal never
// names a staged entry a power loss could take away.
func (s *Set) syncStaged() error {
	var dirs []string
	for d := range s.dirs {
		rel := relTo(s.run, d)
		for _, o := range s.ops {
			if o.kind != opExchange {
				continue
			}
			unit := strings.TrimPrefix(o.staged, relTo(s.dir, s.run)+"/")
			if within(rel, unit) || within(unit, rel) {
				dirs = append(dirs, d)
				break
			}
		}
	}
	dirs = append(dirs, s.run, filepath.Dir(s.run), s.dir)
	for _, d := range dirs {
		if err := s.fs.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// writeJournal writes the journal aside in the run's staging directory,
// syncs it, and renames it into the metadata directory: the commit
// point.
func (s *Set) writeJournal(run string) error {
	j := journal{Format: journalFormat, Run: filepath.Base(run), Ops: s.ops}
	b, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return err
	}
	f, err := s.fs.CreateTemp(run, ".journal-*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", journalName, err)
	}
	meta := s.abs(MetaDir)
	if err := refuseLinks(s.fs, s.dir, journalName); err != nil {
		return err
	}
	if s.opts.beforeCommitPoint != nil {
		s.opts.beforeCommitPoint()
	}
	if err := s.fs.Rename(f.Name(), s.abs(journalName)); err != nil {
		return err
	}
	if err := s.fs.SyncDir(meta); err != nil {
		// The journal may or may not be durable: the commit is decided
		// either way only once it is, so undo it.
		a := &applier{fs: s.fs, dir: s.dir, synced: map[string]bool{}}
		return s.rollback(a, err)
	}
	if s.opts.afterCommitPoint != nil {
		s.opts.afterCommitPoint()
	}
	return nil
}
