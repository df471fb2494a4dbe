package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// A commit is made durable in three steps (docs/faults.md):
//
//  1. everything the run writes is written under the staging directory,
//     .keyrate-staging/RUN/, at the same relative paths it will have in
//     the output directory, and synced;
//  2. the journal, _keyrate/journal.json, lists every change to make
//     (exchange a staged file or partition with its final name, or
//     remove a final name); it is written aside, synced and renamed into
//     place: that rename is the commit point;
//  3. the changes are made, their directories synced, and the journal
//     and the staging directory removed.
//
// After a crash, recovery needs nothing but the journal and the staging
// directory: with a journal it redoes every change not yet done, so the
// directory holds the run's output entirely; without one it removes the
// staging directory, so the directory holds the previous output
// entirely. It touches no other name.
const (
	// stagingDir is where a run writes, inside the output directory (the
	// same file system, so installing is a rename) but outside every
	// table's directory: engines reading TABLE/*/*.parquet with Hive
	// partitioning must not see a partition being written (DuckDB does
	// not skip hidden directories; it fails on a "partition" named
	// .date=...).
	stagingDir = ".keyrate-staging"
	// MetaDir holds a dataset's metadata and, while a commit is in
	// flight, its journal. No table glob matches it.
	MetaDir     = "_keyrate"
	journalName = MetaDir + "/journal.json"
	// asideDir, in a run's staging directory, receives what a commit
	// removes, and old versions that could not be exchanged into the
	// staged name.
	asideDir = ".old"
)

// journalFormat is the version of the journal's encoding. Recovery
// refuses a journal of another version rather than guess at it.
const journalFormat = 1

// journal is the list of changes of one commit.
type journal struct {
	Format int    `json:"format"`
	Run    string `json:"run"` // the run's directory under stagingDir
	Ops    []op   `json:"ops"`
}

// opKind says what a journal entry does.
type opKind string

const (
	// opExchange gives final the content of staged: a rename when final
	// does not exist, else an exchange of the two names (the old version
	// lands in staging).
	opExchange opKind = "exchange"
	// opRemove moves final into the staging directory, to be deleted
	// with it.
	opRemove opKind = "remove"
)

// op is one entry of a journal. Paths are slash-separated and relative
// to the output directory.
type op struct {
	kind   opKind
	staged string // opExchange: under stagingDir/RUN/
	final  string
	// ino identifies the file or directory that final holds once the
	// op is done (opExchange: the staged one) or that it must no
	// longer hold (opRemove: the one to remove); 0 where the system has
	// no inode numbers.
	ino uint64
}

// MarshalJSON writes {"exchange": [staged, final, ino]} or
// {"remove": [final, ino]}.
func (o op) MarshalJSON() ([]byte, error) {
	var args []any
	switch o.kind {
	case opExchange:
		args = []any{o.staged, o.final, o.ino}
	case opRemove:
		args = []any{o.final, o.ino}
	default:
		return nil, fmt.Errorf("journal: unknown operation %q", o.kind)
	}
	return json.Marshal(map[opKind][]any{o.kind: args})
}

func (o *op) UnmarshalJSON(b []byte) error {
	var m map[opKind][]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("an operation has one name, got %d", len(m))
	}
	for kind, args := range m {
		o.kind = kind
		var dst []any
		switch kind {
		case opExchange:
			dst = []any{&o.staged, &o.final, &o.ino}
		case opRemove:
			dst = []any{&o.final, &o.ino}
		default:
			return fmt.Errorf("unknown operation %q", kind)
		}
		if len(args) != len(dst) {
			return fmt.Errorf("%s takes %d arguments, got %d", kind, len(dst), len(args))
		}
		for i, a := range args {
			if err := json.Unmarshal(a, dst[i]); err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
		}
	}
	return nil
}

// validRel reports whether rel is a path a set may install or remove:
// relative, slash-separated, clean, without "..", and without a
// component starting with "." (hidden names are keyrate's own: the lock,
// the staging directory, temporary files).
func validRel(rel string) error {
	if rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || strings.Contains(rel, `\`) {
		return fmt.Errorf("%q is not a clean relative path", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." || strings.HasPrefix(c, ".") {
			return fmt.Errorf("%q: names starting with a dot are keyrate's own", rel)
		}
	}
	if rel == journalName || rel == MetaDir {
		return fmt.Errorf("%q holds the commit journal", rel)
	}
	return nil
}

// validate checks that j names only paths a commit of run could have
// written: a journal that does not is not keyrate's, and recovery must
// not act on it.
func (j *journal) validate() error {
	if j.Format != journalFormat {
		return fmt.Errorf("format %d, this keyrate reads %d", j.Format, journalFormat)
	}
	if strings.ContainsAny(j.Run, `/\`) || j.Run == "" || j.Run == "." || j.Run == ".." {
		return fmt.Errorf("bad run name %q", j.Run)
	}
	prefix := stagingDir + "/" + j.Run + "/"
	for _, o := range j.Ops {
		if err := validRel(o.final); err != nil {
			return err
		}
		if o.kind == opExchange && (o.staged != prefix+o.final) {
			return fmt.Errorf("%q is not the staged name of %q", o.staged, o.final)
		}
	}
	return nil
}

// JournalError says an output directory holds a commit journal that
// keyrate cannot read: the run it describes cannot be completed, and
// nothing was done.
type JournalError struct {
	Path string
	Err  error
}

func (e *JournalError) Error() string {
	return fmt.Sprintf("%s: not a commit journal keyrate can complete (%v); nothing was changed. "+
		"Restore the directory from a backup, or move the journal away (the run it describes is then lost, "+
		"and files it had already replaced stay replaced) and run again", quotePath(e.Path), e.Err)
}

func (e *JournalError) Unwrap() error { return e.Err }

// IncompleteCommitError says a commit failed after its commit point and
// could not be rolled back: its journal is still in place, and the next
// run's recovery completes it.
type IncompleteCommitError struct {
	Dir string
	Err error
}

func (e *IncompleteCommitError) Error() string {
	return fmt.Sprintf("%v; the run was committed but is not entirely in place: the next keyrate run on %s completes it",
		e.Err, quotePath(e.Dir))
}

func (e *IncompleteCommitError) Unwrap() error { return e.Err }

// applier makes a journal's changes in an output directory.
type applier struct {
	fs  FS
	dir string
	run string // the run's staging directory, relative to dir
	// keepOld says to keep what each change replaces so that rollback
	// can undo it: a commit does, recovery (which only goes forward)
	// does not.
	keepOld bool
	undo    []func() error
	synced  map[string]bool // directories whose entries changed, by path
	redone  []string        // finals whose change was made (recovery's account)
}

func (a *applier) abs(rel string) string { return filepath.Join(a.dir, filepath.FromSlash(rel)) }

// aside is where final's old version goes when it is not exchanged into
// the staged name.
func (a *applier) aside(final string) string {
	return a.abs(a.run + "/" + asideDir + "/" + final)
}

func (a *applier) changed(paths ...string) {
	for _, p := range paths {
		a.synced[filepath.Dir(p)] = true
	}
}

func (a *applier) onUndo(f func() error) {
	if a.keepOld {
		a.undo = append(a.undo, f)
	}
}

// done reports whether o was already made.
func (a *applier) done(o op) (bool, error) {
	final := a.abs(o.final)
	switch o.kind {
	case opExchange:
		if o.ino == 0 {
			// Without inode numbers no name is exchanged (fileID): the
			// staged name is gone exactly when it was renamed in.
			_, err := a.fs.Lstat(a.abs(o.staged))
			if errors.Is(err, fs.ErrNotExist) {
				return true, nil
			}
			return false, err
		}
		fi, err := a.fs.Lstat(final)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		id, ok := fileID(fi)
		return ok && id == o.ino, nil
	case opRemove:
		fi, err := a.fs.Lstat(final)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		} else if err != nil {
			return false, err
		}
		id, ok := fileID(fi)
		return ok && o.ino != 0 && id != o.ino, nil
	}
	return false, fmt.Errorf("unknown operation %q", o.kind)
}

// do makes o. Every name it changes is checked first: no ancestor of
// final inside the output directory, nor final, may be a symbolic link.
func (a *applier) do(o op) error {
	final := a.abs(o.final)
	if err := refuseLinks(a.fs, a.dir, o.final); err != nil {
		return err
	}
	switch o.kind {
	case opExchange:
		return a.exchange(a.abs(o.staged), final)
	case opRemove:
		aside := a.aside(o.final)
		if err := a.fs.MkdirAll(filepath.Dir(aside), 0o755); err != nil {
			return err
		}
		if err := a.fs.Rename(final, aside); err != nil {
			return err
		}
		a.changed(final, aside)
		a.onUndo(func() error { return a.fs.Rename(aside, final) })
		return nil
	}
	return fmt.Errorf("unknown operation %q", o.kind)
}

// exchange gives final the content of staged. A reader of final sees
// the old or the new version, whole: a rename where final does not
// exist, else an atomic exchange of the names (Linux), else, for a
// directory, two renames (a moment with no final) and for a file a
// rename over it (with a hard link to the old version, for rollback).
func (a *applier) exchange(staged, final string) error {
	fi, err := a.fs.Lstat(final)
	if errors.Is(err, fs.ErrNotExist) {
		if err := a.fs.Rename(staged, final); err != nil {
			return err
		}
		a.changed(staged, final)
		a.onUndo(func() error { return a.fs.Rename(final, staged) })
		return nil
	} else if err != nil {
		return err
	}
	switch err := a.fs.Exchange(staged, final); {
	case err == nil:
		a.changed(staged, final)
		a.onUndo(func() error { return a.fs.Exchange(staged, final) })
		return nil
	case !errors.Is(err, errors.ErrUnsupported):
		return err
	}
	aside := a.aside(relTo(a.dir, final))
	if err := a.fs.MkdirAll(filepath.Dir(aside), 0o755); err != nil {
		return err
	}
	a.changed(staged, final, aside)
	if fi.IsDir() {
		if err := a.fs.Rename(final, aside); err != nil {
			return err
		}
		a.onUndo(func() error { return a.fs.Rename(aside, final) })
		if err := a.fs.Rename(staged, final); err != nil {
			return err
		}
		a.onUndo(func() error { return a.fs.Rename(final, staged) })
		return nil
	}
	if a.keepOld {
		if err := a.fs.Link(final, aside); err == nil {
			a.onUndo(func() error { return a.fs.Rename(aside, final) })
		} else {
			a.onUndo(func() error {
				return fmt.Errorf("cannot restore %s: the file system made no link to its old version (%w)", final, err)
			})
		}
	}
	return a.fs.Rename(staged, final)
}

// sync makes the changes so far durable: a rename survives a power loss
// only once its directory is synced.
func (a *applier) sync() error {
	dirs := make([]string, 0, len(a.synced))
	for d := range a.synced {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := a.fs.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// rollback undoes every change made so far, the last first.
func (a *applier) rollback() error {
	for i := len(a.undo) - 1; i >= 0; i-- {
		if err := a.undo[i](); err != nil {
			return err
		}
		a.undo = a.undo[:i]
	}
	return nil
}

// relTo is p relative to dir, slash-separated.
func relTo(dir, p string) string {
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// refuseLinks fails with an *UnsafePathError when rel, or a directory on
// the way to it from dir, is a symbolic link: a change made through it
// would land outside the output directory.
func refuseLinks(fsys FS, dir, rel string) error {
	p := dir
	for _, c := range strings.Split(rel, "/") {
		p = filepath.Join(p, c)
		if err := refuseLink(fsys, p); err != nil {
			return err
		}
	}
	return nil
}

// readJournal reads dir's journal; ok is false when there is none.
func readJournal(fsys FS, dir string) (j journal, ok bool, err error) {
	p := filepath.Join(dir, filepath.FromSlash(journalName))
	if err := refuseLinks(fsys, dir, journalName); err != nil {
		return j, false, err
	}
	f, err := fsys.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return j, false, nil
	} else if err != nil {
		return j, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJournalBytes+1))
	if err != nil {
		return j, false, err
	}
	if len(b) > maxJournalBytes {
		return j, false, &JournalError{Path: p, Err: fmt.Errorf("larger than %d bytes", maxJournalBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return j, false, &JournalError{Path: p, Err: err}
	}
	if err := j.validate(); err != nil {
		return j, false, &JournalError{Path: p, Err: err}
	}
	return j, true, nil
}

// maxJournalBytes bounds the journal recovery reads: a year of day
// partitions of a dozen tables is ~4,000 entries of ~150 bytes.
const maxJournalBytes = 64 << 20
