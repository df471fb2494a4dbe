package parquetlog

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/schema"
)

// column reads one flat column of a row group cell by cell, a batch of
// values at a time.
type column interface {
	// next appends the text of the next cell to dst; null reports a null
	// cell (nothing appended).
	next(dst []byte) ([]byte, bool, error)
}

// batchReader is the ReadBatch method each typed column chunk reader of
// parquet/file has.
type batchReader[T any] interface {
	ReadBatch(batchSize int64, values []T, defLvls, repLvls []int16) (total int64, valuesRead int, err error)
}

// typedColumn is a column of physical type T. Values come back dense (no
// slot for a null) with one definition level per row, lower than the
// column's maximum for a null.
type typedColumn[T any] struct {
	rd     batchReader[T]
	maxDef int16
	render func(dst []byte, v T) []byte
	vals   []T
	defs   []int16
	n      int // rows in the buffer
	i, v   int // the next row and the next value in the buffer
}

func newTyped[T any](rd batchReader[T], maxDef int16, render func([]byte, T) []byte) *typedColumn[T] {
	return &typedColumn[T]{rd: rd, maxDef: maxDef, render: render,
		vals: make([]T, batchRows), defs: make([]int16, batchRows)}
}

var errShortColumn = errors.New("a column chunk has fewer values than its row group has rows")

func (c *typedColumn[T]) next(dst []byte) ([]byte, bool, error) {
	if c.i == c.n {
		total, _, err := c.rd.ReadBatch(batchRows, c.vals, c.defs, nil)
		if err != nil {
			return dst, false, err
		}
		if total == 0 {
			return dst, false, errShortColumn
		}
		c.n, c.i, c.v = int(total), 0, 0
	}
	row := c.i
	c.i++
	if c.maxDef > 0 && c.defs[row] < c.maxDef {
		return dst, true, nil
	}
	v := c.vals[c.v]
	c.v++
	return c.render(dst, v), false, nil
}

// newColumn wraps a column chunk reader, choosing how a cell becomes text
// from the column's physical and logical type: what an Arrow conversion
// of the column would print, which is what the role parsers expect
// (timestamps as RFC 3339 UTC with milliseconds, dates as YYYY-MM-DD).
func newColumn(cr file.ColumnChunkReader) (column, error) {
	desc := cr.Descriptor()
	maxDef := desc.MaxDefinitionLevel()
	lt := desc.LogicalType()
	if d, ok := lt.(*schema.DecimalLogicalType); ok {
		return newDecimalColumn(cr, maxDef, d.Scale())
	}
	switch r := cr.(type) {
	case *file.ByteArrayColumnChunkReader:
		return newTyped(r, maxDef, func(dst []byte, v parquet.ByteArray) []byte { return append(dst, v...) }), nil
	case *file.FixedLenByteArrayColumnChunkReader:
		return newTyped(r, maxDef, func(dst []byte, v parquet.FixedLenByteArray) []byte { return append(dst, v...) }), nil
	case *file.BooleanColumnChunkReader:
		return newTyped(r, maxDef, strconv.AppendBool), nil
	case *file.Float32ColumnChunkReader:
		return newTyped(r, maxDef, func(dst []byte, v float32) []byte { return appendFloat(dst, float64(v)) }), nil
	case *file.Float64ColumnChunkReader:
		return newTyped(r, maxDef, appendFloat), nil
	case *file.Int96ColumnChunkReader: // legacy (Impala, Spark) timestamps
		return newTyped(r, maxDef, func(dst []byte, v parquet.Int96) []byte { return appendTimestamp(dst, v.ToTime()) }), nil
	case *file.Int32ColumnChunkReader:
		switch t := lt.(type) {
		case schema.DateLogicalType, *schema.DateLogicalType:
			return newTyped(r, maxDef, func(dst []byte, days int32) []byte {
				return time.Unix(int64(days)*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
			}), nil
		case *schema.TimeLogicalType:
			return newTyped(r, maxDef, func(dst []byte, v int32) []byte { return appendTimeOfDay(dst, int64(v), t.TimeUnit()) }), nil
		case *schema.IntLogicalType:
			if !t.IsSigned() {
				return newTyped(r, maxDef, func(dst []byte, v int32) []byte { return strconv.AppendUint(dst, uint64(uint32(v)), 10) }), nil
			}
		}
		return newTyped(r, maxDef, func(dst []byte, v int32) []byte { return strconv.AppendInt(dst, int64(v), 10) }), nil
	case *file.Int64ColumnChunkReader:
		switch t := lt.(type) {
		case *schema.TimestampLogicalType:
			unit := t.TimeUnit()
			return newTyped(r, maxDef, func(dst []byte, v int64) []byte { return appendTimestamp(dst, unixTime(v, unit)) }), nil
		case *schema.TimeLogicalType:
			return newTyped(r, maxDef, func(dst []byte, v int64) []byte { return appendTimeOfDay(dst, v, t.TimeUnit()) }), nil
		case *schema.IntLogicalType:
			if !t.IsSigned() {
				return newTyped(r, maxDef, func(dst []byte, v int64) []byte { return strconv.AppendUint(dst, uint64(v), 10) }), nil
			}
		}
		return newTyped(r, maxDef, func(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }), nil
	}
	return nil, fmt.Errorf("column %s: Parquet type %s is not supported", desc.Path(), cr.Type())
}

// newDecimalColumn renders an integer-backed DECIMAL with its scale.
func newDecimalColumn(cr file.ColumnChunkReader, maxDef int16, scale int32) (column, error) {
	switch r := cr.(type) {
	case *file.Int32ColumnChunkReader:
		return newTyped(r, maxDef, func(dst []byte, v int32) []byte { return appendDecimal(dst, int64(v), scale) }), nil
	case *file.Int64ColumnChunkReader:
		return newTyped(r, maxDef, func(dst []byte, v int64) []byte { return appendDecimal(dst, v, scale) }), nil
	}
	return nil, fmt.Errorf("column %s: a DECIMAL stored as %s is not supported", cr.Descriptor().Path(), cr.Type())
}

func unixTime(v int64, unit schema.TimeUnitType) time.Time {
	switch unit {
	case schema.TimeUnitMillis:
		return time.UnixMilli(v)
	case schema.TimeUnitMicros:
		return time.UnixMicro(v)
	}
	return time.Unix(0, v)
}

// appendTimestamp writes t in UTC as RFC 3339 with milliseconds.
func appendTimestamp(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
}

// appendTimeOfDay writes a TIME value as Arrow prints one: hh:mm:ss and
// the unit's fraction digits.
func appendTimeOfDay(dst []byte, v int64, unit schema.TimeUnitType) []byte {
	t := unixTime(v, unit).UTC()
	switch unit {
	case schema.TimeUnitMillis:
		return t.AppendFormat(dst, "15:04:05.000")
	case schema.TimeUnitMicros:
		return t.AppendFormat(dst, "15:04:05.000000")
	}
	return t.AppendFormat(dst, "15:04:05.000000000")
}

// appendDecimal writes unscaled × 10^-scale in plain notation.
func appendDecimal(dst []byte, unscaled int64, scale int32) []byte {
	if scale <= 0 {
		dst = strconv.AppendInt(dst, unscaled, 10)
		for range -scale {
			dst = append(dst, '0')
		}
		return dst
	}
	if unscaled < 0 {
		dst = append(dst, '-')
	}
	digits := strconv.FormatUint(absInt(unscaled), 10)
	for len(digits) <= int(scale) {
		digits = "0" + digits
	}
	cut := len(digits) - int(scale)
	return append(append(append(dst, digits[:cut]...), '.'), digits[cut:]...)
}

func absInt(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}
