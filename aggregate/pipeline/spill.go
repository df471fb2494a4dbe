package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/keyrate/keyrate/aggregate"
)

// spiller writes workers' states to sorted runs in a private temporary
// directory, created on the first spill and removed by removeAll.
type spiller struct {
	dir string // parent, as given by --tmp-dir
	mu  sync.Mutex
	tmp string // the private directory, once created
	// release unlocks tmp (makeSpillDir), once it is removed.
	release func()
	// removed is set by removeAll: a worker still spilling (a stopped
	// run returns without waiting for workers blocked on a pipe) must
	// not create the directory again after it is gone.
	removed bool
	// runs are the runs of each request class.
	runs  map[aggregate.Class][]string
	bytes int64 // compressed bytes spilled by workers
	count int   // spills by workers (before any intermediate merge)
}

// spill writes st, a State of request class class, as a run and resets
// it.
func (s *spiller) spill(st *aggregate.State, class aggregate.Class) error {
	c, err := st.Open()
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := s.newRun()
	if err != nil {
		return err
	}
	path := f.Name()
	n, err := writeRunFile(f, c)
	if err != nil {
		return err
	}
	st.Reset()
	s.mu.Lock()
	if s.runs == nil {
		s.runs = map[aggregate.Class][]string{}
	}
	s.runs[class] = append(s.runs[class], path)
	s.bytes += n
	s.count++
	s.mu.Unlock()
	return nil
}

// newRun creates a run file, open for writing. It is created under the
// lock removeAll takes, so a run either exists before removeAll deletes
// it (its writer then writes to an unlinked file) or is never created.
func (s *spiller) newRun() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil, errSpillRemoved
	}
	if s.tmp == "" {
		tmp, release, err := makeSpillDir(s.dir)
		if err != nil {
			return nil, fmt.Errorf("spilling state to disk: %w", err)
		}
		s.tmp, s.release = tmp, release
	}
	f, err := os.CreateTemp(s.tmp, "run-*.krr")
	if err != nil {
		return nil, fmt.Errorf("spilling state to disk: %w", err)
	}
	return f, nil
}

var errSpillRemoved = errors.New("spilling state to disk: the run is over, its temporary directory removed")

// writeRunFile writes what c yields as a run to f, closes f and returns
// its size.
func writeRunFile(f *os.File, c aggregate.Cursor) (int64, error) {
	path := f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	_, err := aggregate.WriteRun(bw, c)
	if err == nil {
		err = bw.Flush()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		st, err = f.Stat()
		if err == nil {
			size = st.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("spilling state to %s: %w", path, err)
	}
	return size, nil
}

// maxFanIn bounds how many runs are read at once, so the merge's memory
// (a decoder and a buffer per run) stays small whatever the spill count.
const maxFanIn = 16

// compact merges runs, oldest first and maxFanIn at a time, until no
// class has more than maxFanIn runs, so reading the result opens at most
// maxFanIn runs per class.
func (s *spiller) compact() error {
	for l := range s.runs {
		for len(s.runs[l]) > maxFanIn {
			group := s.runs[l][:maxFanIn]
			cs, err := openRuns(group)
			if err != nil {
				return err
			}
			merged := aggregate.NewMerge(cs...)
			f, err := s.newRun()
			var path string
			if err == nil {
				path = f.Name()
				_, err = writeRunFile(f, merged)
			}
			merged.Close()
			if err != nil {
				return err
			}
			for _, p := range group {
				os.Remove(p)
			}
			s.runs[l] = append(s.runs[l][maxFanIn:], path)
		}
	}
	return nil
}

// mergedSource is one merged aggregate as Result hands it out: the
// workers' in-memory states plus the runs spilled from them. Each Open
// opens fresh cursors over all of them, so the evaluator may read it
// more than once (per-account limits do).
type mergedSource struct {
	states []*aggregate.State
	runs   []string
}

// Open implements aggregate.Partials. Every input is read ahead on its
// own goroutine (a State's cursor sorts its cells first, a run
// decompresses), in parallel with the merge and with the evaluation that
// consumes it. Closing the merge stops the read-ahead and closes the
// runs.
func (m *mergedSource) Open() (aggregate.Cursor, error) {
	runs, err := openRuns(m.runs)
	if err != nil {
		return nil, err
	}
	var inputs []aggregate.Cursor
	for _, c := range runs {
		inputs = append(inputs, prefetch(func() (aggregate.Cursor, error) { return c, nil }))
	}
	for _, st := range m.states {
		if st.Cells() > 0 {
			inputs = append(inputs, prefetch(st.Open))
		}
	}
	return aggregate.NewMerge(inputs...), nil
}

// openRuns opens the runs at paths (all, or none on an error).
func openRuns(paths []string) ([]aggregate.Cursor, error) {
	var cs []aggregate.Cursor
	for _, p := range paths {
		f, err := os.Open(p)
		if err == nil {
			var rr *aggregate.RunReader
			if rr, err = aggregate.NewRunReader(bufio.NewReaderSize(f, 64<<10)); err == nil {
				cs = append(cs, &runCursor{rr, f, p})
				continue
			}
			f.Close()
			err = fmt.Errorf("%s: %w", p, err)
		}
		for _, c := range cs {
			c.Close()
		}
		return nil, err
	}
	return cs, nil
}

// runCursor reads a spilled run's file, naming it in read errors.
type runCursor struct {
	rr   *aggregate.RunReader
	f    *os.File
	path string
}

func (c *runCursor) Next(dst []aggregate.Point) (string, []aggregate.Point, error) {
	key, points, err := c.rr.Next(dst)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading spilled run %s: %w", c.path, err)
	}
	return key, points, err
}

// Close releases the decoder and the file.
func (c *runCursor) Close() {
	if c.f != nil {
		c.rr.Close()
		c.f.Close()
		c.f = nil
	}
}

// removeAll deletes the temporary directory and every run in it.
func (s *spiller) removeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = true
	if s.tmp == "" {
		return nil
	}
	err := os.RemoveAll(s.tmp)
	s.release()
	s.tmp = ""
	s.runs = nil
	return err
}
