// Package report writes keyrate's outputs: tables as CSV and Parquet, and
// the run manifest. Every file is written under a temporary name in its
// destination directory and renamed into place only when complete, so a
// failed or interrupted run never leaves a half-written report.
package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// pendingFile is a file being written aside its final name.
type pendingFile struct {
	*os.File
	final string
	done  bool
}

// createPending creates a temporary file in the directory of final (the
// same file system, so the rename is atomic).
func createPending(final string) (*pendingFile, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &pendingFile{File: f, final: final}, nil
}

// commit flushes the file to stable storage and renames it into place.
// fsync comes first: without it a crash after the rename could leave the
// new name pointing at an empty file.
func (p *pendingFile) commit() error {
	if err := p.Sync(); err != nil {
		p.cleanup()
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if err := p.Close(); err != nil {
		p.cleanup()
		return fmt.Errorf("%s: %w", p.final, err)
	}
	if err := os.Rename(p.Name(), p.final); err != nil {
		p.cleanup()
		return err
	}
	p.done = true
	return nil
}

// cleanup removes the temporary file unless it was committed; it is safe
// to call more than once and after commit.
func (p *pendingFile) cleanup() {
	if p.done {
		return
	}
	p.done = true
	p.Close()
	os.Remove(p.Name())
}
