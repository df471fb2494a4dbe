// Package report writes keyrate's outputs: tables as CSV and Parquet, the
// run manifest, and a dataset's other files. Everything a run writes is
// staged inside the output directory and installed by one journaled
// commit (see journal.go), so a failed, interrupted or killed run leaves
// the previous output or the new one, entirely, never a mix and never a
// half-written file.
package report

import (
	"fmt"
	"path/filepath"
)

// pendingFile is a file being written in a set's staging directory. It
// is written under a temporary name beside its staged one and takes the
// staged name once complete and synced, so that what the staged tree
// holds at the commit point is only complete files.
type pendingFile struct {
	File
	fs     FS
	rel    string // the final path, relative to the set's directory
	staged string // where it is staged
	done   bool   // finished: synced, closed and under its staged name
	closed bool
	// written counts the bytes written; the first flushed of them were
	// handed to the kernel's writeback (see Write).
	written, flushed int64
}

// writebackBytes is how many bytes a file gathers before they are handed
// to the kernel's writeback (startWriteback).
const writebackBytes = 256 << 10

// Write writes b and, every writebackBytes, has the kernel start writing
// what came since to disk. A run's tables are written while it
// evaluates, but were synced only at the commit, whose fsyncs then
// waited for all of their bytes at once; started early, the writes
// overlap the evaluation and the commit waits for the last few only.
func (p *pendingFile) Write(b []byte) (int, error) {
	n, err := p.File.Write(b)
	p.written += int64(n)
	if p.written-p.flushed >= writebackBytes {
		startWriteback(p.File, p.flushed, p.written-p.flushed)
		p.flushed = p.written
	}
	return n, err
}

// createPending creates the temporary file of staged, in its directory.
func createPending(fsys FS, rel, staged string) (*pendingFile, error) {
	dir, base := filepath.Split(staged)
	f, err := fsys.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &pendingFile{File: f, fs: fsys, rel: rel, staged: staged}, nil
}

// finish flushes the file to stable storage, closes it and gives it its
// staged name. fsync comes first: without it a crash after the commit
// could leave the installed name pointing at an empty file. It is safe to
// call more than once.
func (p *pendingFile) finish() error {
	if p.done {
		return nil
	}
	if err := p.Sync(); err != nil {
		return fmt.Errorf("%s: %w", p.rel, err)
	}
	p.closed = true
	if err := p.File.Close(); err != nil {
		return fmt.Errorf("%s: %w", p.rel, err)
	}
	if err := p.fs.Rename(p.Name(), p.staged); err != nil {
		return err
	}
	p.done = true
	return nil
}

// Close finishes the file (see Set.Create).
func (p *pendingFile) Close() error { return p.finish() }

// discard closes the file if it is open; the staging directory, removed
// whole, takes it.
func (p *pendingFile) discard() {
	if !p.closed {
		p.closed = true
		p.File.Close()
	}
}
