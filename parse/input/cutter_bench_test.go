package input

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCutter cuts the sample's plain log, repeated to a few MiB, into
// the pipeline's blocks, handing each block's buffer back as the next
// Next's dst as the pipeline's recycled buffers come back.
func BenchmarkCutter(b *testing.B) {
	one, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", "server-a.log"))
	if err != nil {
		b.Skip("no sample:", err)
	}
	data := bytes.Repeat(one, (8<<20)/len(one)+1)
	r := bytes.NewReader(data)
	c := NewCutter(r, 0, 256<<10)
	free := [][]byte{make([]byte, 0, 256<<10), make([]byte, 0, 256<<10)}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			blk, err := c.Next(free[0])
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			free[0], free[1] = free[1], blk.Lines[:0]
		}
	}
}
