package report

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquetOut is the output of a Parquet writer. It passes bytes through
// until hold; from then on it keeps them, for writeUndeclared.
type parquetOut struct {
	w    io.Writer
	held *bytes.Buffer
}

func (o *parquetOut) Write(b []byte) (int, error) {
	if o.held != nil {
		return o.held.Write(b)
	}
	return o.w.Write(b)
}

func (o *parquetOut) hold() { o.held = new(bytes.Buffer) }

// writeUndeclared writes what was held, the end of a Parquet file, with
// its footer's sort order declaration removed.
func (o *parquetOut) writeUndeclared() error {
	b, err := withoutSortingColumns(o.held.Bytes())
	o.held = nil
	if err != nil {
		return err
	}
	_, err = o.w.Write(b)
	return err
}

// withoutSortingColumns rewrites the end of a Parquet file, its footer
// last, as parquet-go writes it when no sort order is configured: every
// row group's sorting_columns an empty list. The footer is the file's
// thrift FileMetaData, then its length (4 bytes, little endian) and the
// magic "PAR1"; nothing in the file points into it, so only it changes.
func withoutSortingColumns(tail []byte) ([]byte, error) {
	if len(tail) < 8 || string(tail[len(tail)-4:]) != "PAR1" {
		return nil, errors.New("rewriting a Parquet footer: no footer")
	}
	start := len(tail) - 8 - int(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if start < 0 {
		return nil, errors.New("rewriting a Parquet footer: footer longer than the file's end")
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), tail[start:len(tail)-8], &md); err != nil {
		return nil, fmt.Errorf("rewriting a Parquet footer: %w", err)
	}
	for i := range md.RowGroups {
		md.RowGroups[i].SortingColumns = make(thrift.Slice[format.SortingColumn], 0)
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		return nil, fmt.Errorf("rewriting a Parquet footer: %w", err)
	}
	out := append(tail[:start:start], footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...), nil
}
