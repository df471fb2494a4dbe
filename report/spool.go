package report

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// rowSpool keeps a partition's rows on disk until its Parquet file is
// encoded (see options.roomyParts): gob records in a file of the
// partition's staging directory, so an aborted set removes it with the
// partition. gob sends a pointer to a zero value as nothing, which reads
// back as nil: a nullable column's 0 (a quota's remaining 0) would come
// back null. So each row is preceded by the mask of its pointer fields
// that are set.
type rowSpool[T any] struct {
	fs     FS
	f      File
	closed bool
	bw     *bufio.Writer
	enc    *gob.Encoder
	ptrs   []int // T's pointer fields, at most 64
}

// pointerFields returns the indices of T's pointer fields.
func pointerFields[T any]() []int {
	var out []int
	rt := reflect.TypeFor[T]()
	for i := range rt.NumField() {
		if rt.Field(i).Type.Kind() == reflect.Pointer {
			out = append(out, i)
		}
	}
	return out[:min(len(out), 64)]
}

func newRowSpool[T any](fsys FS, dir string) (*rowSpool[T], error) {
	f, err := fsys.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 4<<10)
	return &rowSpool[T]{fs: fsys, f: f, bw: bw, enc: gob.NewEncoder(bw), ptrs: pointerFields[T]()}, nil
}

func (s *rowSpool[T]) add(row *T) error {
	var set uint64
	v := reflect.ValueOf(row).Elem()
	for i, f := range s.ptrs {
		if !v.Field(f).IsNil() {
			set |= 1 << i
		}
	}
	err := s.enc.Encode(set)
	if err == nil {
		err = s.enc.Encode(row)
	}
	if err != nil {
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
	v := reflect.ValueOf(&row).Elem()
	for {
		row = *new(T) // gob leaves fields absent from a record as they were
		var set uint64
		err := dec.Decode(&set)
		if err == nil {
			err = dec.Decode(&row)
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("reading spooled rows from %s: %w", s.f.Name(), err)
		}
		for i, f := range s.ptrs {
			if fv := v.Field(f); set&(1<<i) != 0 && fv.IsNil() {
				fv.Set(reflect.New(fv.Type().Elem())) // a zero gob did not send
			}
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
