package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/keyrate/keyrate/parse/input"
)

// Progress counts what Run has read so far, for a progress display that
// polls it from another goroutine. Workers publish every 4096 lines and at
// the end of each file, so the hot path pays two atomic adds per 4096
// lines rather than per line.
type Progress struct {
	bytes   atomic.Int64 // compressed bytes consumed, all inputs
	lines   atomic.Int64
	current atomic.Pointer[string]
}

// Bytes is how many stored (compressed) bytes have been read.
func (p *Progress) Bytes() int64 { return p.bytes.Load() }

// Lines is how many lines have been read.
func (p *Progress) Lines() int64 { return p.lines.Load() }

// Current is the input a worker most recently started on ("" before any).
func (p *Progress) Current() string {
	if s := p.current.Load(); s != nil {
		return *s
	}
	return ""
}

// published is one worker's last report for its current input.
type published struct {
	in           *input.Input
	bytes, lines int64
}

// publish adds what r read from in since its last report to the progress.
func (r *aggregator) publish(in *input.Input, st *FileStats) {
	p := r.cfg.Progress
	if p == nil {
		return
	}
	if r.pub.in != in {
		r.pub = published{in: in}
		name := in.Name
		p.current.Store(&name)
	}
	b := in.CompressedBytes()
	p.bytes.Add(b - r.pub.bytes)
	p.lines.Add(st.Lines - r.pub.lines)
	r.pub.bytes, r.pub.lines = b, st.Lines
}

// publishLines adds n lines parsed from a block to the progress; the
// reader cutting the file publishes its bytes.
func (r *aggregator) publishLines(n int64) {
	if p := r.cfg.Progress; p != nil {
		p.lines.Add(n)
	}
}

// skip turns a per-file read error into a Corrupt mark when the config
// allows it, and returns nil then; otherwise it returns err. Running out
// of file descriptors or memory is the run's trouble, not the file's: it
// fails the run even under --skip-corrupt, which would otherwise mark
// every file opened meanwhile corrupt and drop its requests with exit 0.
func (r *aggregator) skip(st *FileStats, err error) error {
	if !r.cfg.SkipCorrupt || outOfResources(err) {
		return err
	}
	st.Corrupt = true
	st.CorruptError = err.Error()
	return nil
}

// waitUnlessCanceled waits for wg, or until ctx is done; it reports
// whether wg finished.
func waitUnlessCanceled(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// outOfResources reports whether err says the process or the system ran
// out of file descriptors or memory, or an input needs more memory than
// the run may use (a zstd window): skipped, the input would silently
// count for nothing.
func outOfResources(err error) bool {
	var we *input.WindowError
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM) || errors.As(err, &we)
}
