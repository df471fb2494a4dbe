package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Changes says what a commit changes in the set's directory, by paths
// relative to it: a file, or a whole partition directory.
type Changes struct {
	// Written are the files and partitions the commit installs: new,
	// or replacing different ones.
	Written []string
	// Unchanged are those the set wrote byte for byte as installed: the
	// commit leaves them alone.
	Unchanged []string
	// Removed are the installed paths the commit removes (Remove, and
	// a previous run's files in formats the set does not write).
	Removed []string
}

// stagingRun returns the run's staging directory, making it (and the
// staging directory) on first use. Call it with s.mu held.
func (s *Set) stagingRun() (string, error) {
	if s.run != "" {
		return s.run, nil
	}
	if err := refuseLinks(s.fs, s.dir, stagingDir); err != nil {
		return "", err
	}
	staging := filepath.Join(s.dir, stagingDir)
	if err := s.fs.MkdirAll(staging, 0o755); err != nil {
		return "", err
	}
	run, err := s.fs.MkdirTemp(staging, "run-")
	if err != nil {
		return "", err
	}
	s.run = run
	s.dirs = map[string]bool{}
	return run, nil
}

// stagedDir makes the staged directory for rel's parent. Call it with
// s.mu held.
func (s *Set) stagedDir(rel string) (string, error) {
	run, err := s.stagingRun()
	if err != nil {
		return "", err
	}
	parent := path.Dir(rel)
	d := filepath.Join(run, filepath.FromSlash(parent))
	if parent == "." || s.dirs[d] {
		return d, nil
	}
	if err := s.fs.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	for p := d; p != run; p = filepath.Dir(p) {
		s.dirs[p] = true
	}
	return d, nil
}

// create starts writing the set's file rel (slash-separated, relative to
// the set's directory), staged.
func (s *Set) create(rel string) (*pendingFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged && rel != manifestName {
		return nil, fmt.Errorf("report: %s: the set is staged already", rel)
	}
	if err := validRel(rel); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if s.files[rel] || slices.Contains(s.removes, rel) {
		return nil, fmt.Errorf("report: %s is in the set twice", rel)
	}
	// Refused now, before anything is encoded, and again at the commit.
	if err := refuseLinks(s.fs, s.dir, rel); err != nil {
		return nil, err
	}
	dir, err := s.stagedDir(rel)
	if err != nil {
		return nil, err
	}
	pf, err := createPending(s.fs, rel, filepath.Join(dir, path.Base(rel)))
	if err != nil {
		return nil, err
	}
	if s.files == nil {
		s.files = map[string]bool{}
	}
	s.files[rel] = true
	s.pending = append(s.pending, pf)
	return pf, nil
}

// spoolDir is where a table spools rows, outside the staged tree.
func (s *Set) spoolDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stagingRun()
}

// Create starts writing the file rel (slash-separated, relative to the
// set's directory) as part of the set: it is installed by Commit with the
// rest, and until then is invisible under its final name. Close says the
// file is complete (it is then synced); Commit closes any still open.
//
// A file inside a directory named like a Hive partition (NAME=VALUE, as
// partials/date=2026-11-23/part-0.parquet) belongs to that partition,
// which the commit replaces as a whole, atomically; any other file is
// replaced alone. Names starting with a dot are refused: they are
// keyrate's own.
func (s *Set) Create(rel string) (io.WriteCloser, error) { return s.create(rel) }

// WriteFile writes data as the file rel of the set (see Create): a
// dataset's metadata (_keyrate/dataset.json, _keyrate/ledger.json, a
// checkpoint) is installed in the same commit as the tables.
func (s *Set) WriteFile(rel string, data []byte) error {
	pf, err := s.create(rel)
	if err != nil {
		return err
	}
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return pf.finish()
}

// Remove has Commit remove rel (slash-separated, relative to the set's
// directory): a partition directory (a date without data any more, or
// past retention) or a file. A path that does not exist then is nothing
// to do. It must not be, contain or lie inside a path the set writes.
func (s *Set) Remove(rel string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staged {
		return fmt.Errorf("report: %s: the set is staged already", rel)
	}
	if err := validRel(rel); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if !slices.Contains(s.removes, rel) {
		s.removes = append(s.removes, rel)
	}
	return nil
}

// Stage finishes the set: every table's files encoded, every file synced
// under its staged name. It then compares what the set wrote with what
// is installed and reports what Commit will change, so that the caller
// can say so in the manifest it gives Commit. Nothing but Commit may
// follow. Commit calls it if the caller did not.
func (s *Set) Stage() (Changes, error) {
	if s.staged {
		return s.changes, nil
	}
	if s.over {
		return Changes{}, errors.New("report: the set is over")
	}
	if err := s.flush(); err != nil {
		return Changes{}, err
	}
	if _, _, err := s.Dates(); err != nil {
		return Changes{}, err
	}
	if err := inParallel(s.tables, finisher.finish); err != nil {
		return Changes{}, err
	}
	// Each fsync waits for its own file's blocks: issued together they
	// overlap.
	if err := inParallel(s.pending, (*pendingFile).finish); err != nil {
		return Changes{}, err
	}
	if err := s.makeMeta(); err != nil {
		return Changes{}, err
	}
	removes := append(slices.Clone(s.removes), s.retireOtherFormats()...)
	ops, changes, err := s.plan(s.pending, removes)
	if err != nil {
		return Changes{}, err
	}
	s.mu.Lock()
	s.staged, s.ops, s.changes = true, ops, changes
	s.mu.Unlock()
	return changes, nil
}

// unit is what a commit installs as one: a file, or a directory whose
// files are replaced together.
type unit struct {
	rel string
	dir bool
}

// unitOf is the unit that the file rel belongs to: its nearest directory
// named like a Hive partition (NAME=VALUE), or itself.
func unitOf(rel string) unit {
	parts := strings.Split(rel, "/")
	for i := len(parts) - 2; i >= 0; i-- {
		if strings.Contains(parts[i], "=") {
			return unit{rel: strings.Join(parts[:i+1], "/"), dir: true}
		}
	}
	return unit{rel: rel}
}

// plan lists the journal's operations for files and removes: one
// exchange per unit that differs from the installed one, and one remove
// per installed path in removes. A unit whose parent directory does not
// exist yet becomes its highest missing ancestor, staged whole (the
// first partition of a table brings the table's directory), so that
// nothing appears in the directory before the commit point.
func (s *Set) plan(files []*pendingFile, removes []string) ([]op, Changes, error) {
	var units []unit
	for _, pf := range files {
		u, err := s.installAs(unitOf(pf.rel))
		if err != nil {
			return nil, Changes{}, err
		}
		if !slices.Contains(units, u) {
			units = append(units, u)
		}
	}
	// A unit inside another (a partition of a table whose directory is
	// staged whole) goes with it.
	units = slices.DeleteFunc(units, func(u unit) bool {
		return slices.ContainsFunc(units, func(v unit) bool { return v.dir && within(u.rel, v.rel) && u.rel != v.rel })
	})
	slices.SortFunc(units, func(a, b unit) int { return strings.Compare(a.rel, b.rel) })
	var ops []op
	var ch Changes
	run := relTo(s.dir, s.run)
	for _, u := range units {
		staged := run + "/" + u.rel
		same, err := sameTree(s.fs, s.abs(staged), s.abs(u.rel))
		if err != nil {
			return nil, Changes{}, err
		}
		if same {
			ch.Unchanged = append(ch.Unchanged, u.rel)
			continue
		}
		fi, err := s.fs.Lstat(s.abs(staged))
		if err != nil {
			return nil, Changes{}, err
		}
		ino, _ := fileID(fi)
		ops = append(ops, op{kind: opExchange, staged: staged, final: u.rel, ino: ino})
		ch.Written = append(ch.Written, u.rel)
	}
	slices.Sort(removes)
	for _, rel := range slices.Compact(removes) {
		for _, u := range units {
			if within(rel, u.rel) || within(u.rel, rel) {
				return nil, Changes{}, fmt.Errorf("report: %s is both written and removed by the set", rel)
			}
		}
		if err := refuseLinks(s.fs, s.dir, rel); err != nil {
			return nil, Changes{}, err
		}
		fi, err := s.fs.Lstat(s.abs(rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, Changes{}, err
		}
		ino, _ := fileID(fi)
		ops = append(ops, op{kind: opRemove, final: rel, ino: ino})
		ch.Removed = append(ch.Removed, rel)
	}
	slices.SortStableFunc(ops, func(a, b op) int { return opRank(a.final) - opRank(b.final) })
	return ops, ch, nil
}

// opRank orders a commit's changes: the data first, then the dataset's
// metadata, the manifest last, so that a reader who sees the new
// manifest sees everything it describes.
func opRank(final string) int {
	switch {
	case final == manifestName:
		return 2
	case within(final, MetaDir):
		return 1
	}
	return 0
}

// installAs checks the names on u's way and returns the unit to install:
// u, or its highest ancestor that does not exist yet.
func (s *Set) installAs(u unit) (unit, error) {
	parts := strings.Split(u.rel, "/")
	p := s.dir
	for i, c := range parts {
		p = filepath.Join(p, c)
		fi, err := s.fs.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if i == len(parts)-1 {
				return u, nil
			}
			return unit{rel: strings.Join(parts[:i+1], "/"), dir: true}, nil
		case err != nil:
			return u, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return u, &UnsafePathError{Path: p, Reason: "is a symbolic link"}
		case i < len(parts)-1 && !fi.IsDir():
			return u, fmt.Errorf("%s is not a directory", p)
		case i == len(parts)-1 && fi.IsDir() != u.dir:
			want := "a file"
			if u.dir {
				want = "a directory"
			}
			return u, fmt.Errorf("%s is in the way: keyrate writes %s there", p, want)
		}
	}
	return u, nil
}

// within reports whether rel is base or lies inside it.
func within(rel, base string) bool {
	return rel == base || strings.HasPrefix(rel, base+"/")
}

func (s *Set) abs(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

// sameTree reports whether the file or directory tree at installed holds
// exactly what staged does: the same names, and files byte for byte.
func sameTree(fsys FS, staged, installed string) (bool, error) {
	si, err := fsys.Lstat(staged)
	if err != nil {
		return false, err
	}
	ii, err := fsys.Lstat(installed)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	switch {
	case si.Mode().IsRegular() && ii.Mode().IsRegular():
		return si.Size() == ii.Size() && sameBytes(fsys, staged, installed), nil
	case si.IsDir() && ii.IsDir():
		se, err := fsys.ReadDir(staged)
		if err != nil {
			return false, err
		}
		ie, err := fsys.ReadDir(installed)
		if err != nil {
			return false, err
		}
		if len(se) != len(ie) {
			return false, nil
		}
		for i := range se { // ReadDir sorts by name
			if se[i].Name() != ie[i].Name() {
				return false, nil
			}
			same, err := sameTree(fsys, filepath.Join(staged, se[i].Name()), filepath.Join(installed, ie[i].Name()))
			if err != nil || !same {
				return false, err
			}
		}
		return true, nil
	}
	return false, nil
}

// sameBytes reports whether files a and b have the same content; a read
// error counts as a difference (the unit is then installed).
func sameBytes(fsys FS, a, b string) bool {
	fa, err := fsys.Open(a)
	if err != nil {
		return false
	}
	defer fa.Close()
	fb, err := fsys.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	const chunk = 64 << 10
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		eofa := errors.Is(erra, io.EOF) || errors.Is(erra, io.ErrUnexpectedEOF)
		eofb := errors.Is(errb, io.EOF) || errors.Is(errb, io.ErrUnexpectedEOF)
		switch {
		case eofa && eofb:
			return true
		case erra != nil || errb != nil:
			return false
		}
	}
}

// makeMeta makes the metadata directory, where the journal goes, unless
// it exists. It is never installed whole from staging, as a new table's
// directory is: that would take the journal with it.
func (s *Set) makeMeta() error {
	meta := s.abs(MetaDir)
	if err := refuseLinks(s.fs, s.dir, MetaDir); err != nil {
		return err
	}
	if _, err := s.fs.Lstat(meta); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.fs.MkdirAll(meta, 0o755); err != nil {
		return err
	}
	s.madeMeta = true
	return s.fs.SyncDir(s.dir)
}
