// Package pqzstd is the ZSTD codec keyrate writes and reads Parquet
// pages with: report's tables and aggregate's stored partials alike.
package pqzstd

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// Window bounds how far back a Parquet page's compression looks. It
// covers the largest page keyrate writes: data pages buffer 256 KiB and a
// dictionary page at most 1 MiB (the writers' dictionary limit).
const Window = 1 << 20

// Codec is Parquet's ZSTD compression with a window sized to the pages.
// parquet-go's own codec (parquet.Zstd) keeps the library's 8 MiB
// default, so every encoder in use holds 16 MiB of history whatever the
// page size; with report's tables encoding at once that alone was more
// than a 64 MiB --memory budget. Readers see ordinary ZSTD pages. The
// zero value is ready to use; share one, so that its pooled encoders are
// reused.
type Codec struct {
	encoders sync.Pool // *zstd.Encoder
	decoders sync.Pool // *zstd.Decoder
}

func (c *Codec) String() string { return "ZSTD" }

func (c *Codec) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode implements parquet-go's compress.Codec.
func (c *Codec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil,
			// Pages arrive dictionary- and RLE-encoded, which leaves
			// little for a stronger level to find: against
			// SpeedDefault, reports were 2-7% larger (3% smaller with
			// 110k distinct keys) and encoding took about half the
			// CPU, the biggest cost of a run's tail at many keys.
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(Window),
			zstd.WithLowerEncoderMem(true),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

// Decode implements parquet-go's compress.Codec.
func (c *Codec) Decode(dst, src []byte) ([]byte, error) {
	d, _ := c.decoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
	}
	defer c.decoders.Put(d)
	return d.DecodeAll(src, dst[:0])
}
