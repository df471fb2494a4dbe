package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkAnalyze is the whole command on a keyrate-gen log: reading,
// merge, limit evaluation and CSV reports. Profile it with
// go test -bench Analyze -cpuprofile cpu.out ./cmd/keyrate.
func BenchmarkAnalyze(b *testing.B) {
	dir := b.TempDir()
	log := filepath.Join(dir, "access.log")
	out, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	gen := exec.Command("go", "run", "../keyrate-gen", "--lines", "300000")
	gen.Stdout = out
	if err := gen.Run(); err != nil {
		b.Fatal(err)
	}
	out.Close()
	st, _ := os.Stat(log)
	for _, workers := range []string{"1", "2"} {
		b.Run("workers="+workers, func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				err := runAnalyze(context.Background(), quietInvocation(), []string{"--workers", workers, "--limit", "100/min",
					"--output", "csv", "--out", filepath.Join(dir, "out"), log})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
