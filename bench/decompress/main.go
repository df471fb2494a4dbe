// Command decompress reads inputs exactly as keyrate opens them
// (parse.Open: compression from magic bytes, the same gzip and zstd
// libraries and buffers) and discards the bytes. bench/run times it as
// "decompression alone" to compare keyrate's total time against.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/keyrate/keyrate/parse"
)

func main() {
	var total int64
	buf := make([]byte, 2<<20) // keyrate's block size
	for _, path := range os.Args[1:] {
		in, err := parse.Open(path)
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
