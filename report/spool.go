package report

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
)

// rowSpool keeps a partition's rows on disk until its Parquet file is
// encoded (see options.roomyParts): gob records in a file of the
// partition's staging directory, so an aborted set removes it with the
// partition.
type rowSpool[T any] struct {
	fs     FS
	f      File
	closed bool
	bw     *bufio.Writer
	enc    *gob.Encoder
}

func newRowSpool[T any](fsys FS, dir string) (*rowSpool[T], error) {
	f, err := fsys.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 4<<10)
	return &rowSpool[T]{fs: fsys, f: f, bw: bw, enc: gob.NewEncoder(bw)}, nil
}

func (s *rowSpool[T]) add(row *T) error {
	if err := s.enc.Encode(row); err != nil {
		return fmt.Errorf("spooling rows to %s: %w", s.f.Name(), err)
	}
	return nil
}

// replay hands every spooled row, in order, to fn.
func (s *rowSpool[T]) replay(fn func(*T) error) error {
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("spooling rows to %s: %w", s.f.Name(), err)
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("spooling rows to %s: %w", s.f.Name(), err)
	}
	r, err := s.fs.Open(s.f.Name())
	if err != nil {
		return err
	}
	defer r.Close()
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var row T
	for {
		row = *new(T) // gob leaves fields absent from a record as they were
		switch err := dec.Decode(&row); {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("reading spooled rows from %s: %w", s.f.Name(), err)
		}
		if err := fn(&row); err != nil {
			return err
		}
	}
}

func (s *rowSpool[T]) remove() {
	if !s.closed {
		s.f.Close()
	}
	s.fs.Remove(s.f.Name())
}
