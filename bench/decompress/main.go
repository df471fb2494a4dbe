// Command decompress reads inputs exactly as keyrate opens them
// (an input.Opener: compression from magic bytes, the same gzip and zstd
// libraries and buffers, reused from file to file) and discards the bytes. bench/run times it as
// "decompression alone" to compare keyrate's total time against.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/keyrate/keyrate/parse/input"
)

func main() {
	var total int64
	buf := make([]byte, 256<<10) // keyrate's block size (pipeline.DefaultBlockBytes)
	var opener input.Opener      // as each keyrate reader goroutine reuses parts
	defer opener.Close()
	for _, path := range os.Args[1:] {
		in, err := opener.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for {
			n, err := in.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		in.Close()
	}
	fmt.Println(total, "bytes")
}
