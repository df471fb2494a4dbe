// Package report writes keyrate's outputs: tables as CSV and Parquet, and
// the run manifest. Every file is written under a temporary name in its
// destination directory and renamed into place only when complete, so a
// failed or interrupted run never leaves a half-written report.
package report

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// pendingFile is a file being written aside its final name.
type pendingFile struct {
	File
	fs     FS
	final  string
	done   bool // renamed into place
	undone bool // rolled back
	// prev is a hard link to the file final replaced, kept until the
	// whole set is in place so a failed commit can put it back; "" when
	// there was none or it could not be made.
	prev string
	// replaced says final existed before install.
	replaced bool
}

// createPending creates a temporary file in the directory of final (the
// same file system, so the rename is atomic). A final that is a symbolic
// link is refused: the report would replace the link, which was put
// there to have the report written somewhere else.
func createPending(fsys FS, final string) (*pendingFile, error) {
	if err := refuseLink(fsys, final); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := fsys.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &pendingFile{File: f, fs: fsys, final: final}, nil
}

// finish flushes the file to stable storage and closes it. fsync comes
// first: without it a crash after the rename could leave the new name
// pointing at an empty file.
func (p *pendingFile) finish() error {
	if err := p.Sync(); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if err := p.Close(); err != nil {
		return fmt.Errorf("%s: %w", p.final, err)
	}
	return nil
}

// install renames the file into place, first linking any previous file
// under a backup name so that rollback can restore it. On a file system
// without hard links the file is installed without a backup: a later
// failure then cannot restore that one file, but commits still work.
func (p *pendingFile) install() error {
	backup := p.Name() + ".prev"
	switch err := p.fs.Link(p.final, backup); {
	case err == nil:
		p.prev, p.replaced = backup, true
	case errors.Is(err, fs.ErrNotExist):
	default:
		p.replaced = true
	}
	if err := p.fs.Rename(p.Name(), p.final); err != nil {
		return err
	}
	p.done = true
	return nil
}

// rollback undoes install: the previous file comes back, or the new one
// goes when there was none.
func (p *pendingFile) rollback() {
	if p.undone {
		return
	}
	p.undone = true
	if !p.done {
		p.cleanup()
		return
	}
	switch {
	case p.prev != "":
		p.fs.Rename(p.prev, p.final)
		p.prev = ""
	case !p.replaced:
		p.fs.Remove(p.final)
	}
}

// release drops the backup of the previous file once the set is in place.
func (p *pendingFile) release() {
	if p.prev != "" {
		p.fs.Remove(p.prev)
		p.prev = ""
	}
}

// cleanup removes the temporary file unless it was installed; it is safe
// to call more than once and after install.
func (p *pendingFile) cleanup() {
	if p.prev != "" {
		p.fs.Remove(p.prev)
		p.prev = ""
	}
	if p.done {
		return
	}
	p.done = true
	p.Close()
	p.fs.Remove(p.Name())
}

// retiredFile is a previous run's report file that a set removes at
// commit without replacing it. It is moved to a backup name that Recover
// knows (".NAME.tmp-N.prev"), so that a failed commit, or the next run
// after a killed one, puts it back unless the new set was complete.
type retiredFile struct {
	fs     FS
	final  string
	backup string // set once final was moved there
}

// retire moves final aside; a final that does not exist is nothing to do.
func (r *retiredFile) retire() error {
	if err := refuseLink(r.fs, r.final); err != nil {
		return err
	}
	dir, base := filepath.Split(r.final)
	backup := filepath.Join(dir, "."+base+".tmp-"+randomDigits()+".prev")
	switch err := r.fs.Rename(r.final, backup); {
	case err == nil:
		r.backup = backup
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return nil
}

func (r *retiredFile) rollback() {
	if r.backup != "" {
		r.fs.Rename(r.backup, r.final)
		r.backup = ""
	}
}

func (r *retiredFile) release() {
	if r.backup != "" {
		r.fs.Remove(r.backup)
		r.backup = ""
	}
}
