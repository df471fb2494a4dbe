package pipeline

import (
	"context"
	"testing"
)

// BenchmarkProgress compares a run without and with progress counters;
// the ratio is the cost of the progress hook on the hot path.
func BenchmarkProgress(b *testing.B) {
	data := genLog(200000)
	path := writeFileB(b, data)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				cfg := testConfig()
				cfg.Workers = 1
				if on {
					cfg.Progress = &Progress{}
				}
				if _, err := Run(context.Background(), []string{path}, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func writeFileB(b *testing.B, data []byte) string {
	b.Helper()
	return writeFileTB(b, b.TempDir(), "bench.log", data)
}
