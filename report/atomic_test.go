package report

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// A pending file hands its bytes to the kernel's writeback every
// writebackBytes as it is written, and its content is exactly what was
// written, whatever the sizes of the writes.
func TestPendingFileStartsWritebackAsItGoes(t *testing.T) {
	dir := t.TempDir()
	pf, err := createPending(OSFS{}, "t.csv", filepath.Join(dir, "t.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := 0; len(want) < 3*writebackBytes+1000; i++ {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*7919%65536)
		if _, err := pf.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want = append(want, chunk...)
		if pf.written != int64(len(want)) || pf.written-pf.flushed >= writebackBytes {
			t.Fatalf("after %d bytes: written %d, handed to writeback %d", len(want), pf.written, pf.flushed)
		}
	}
	if pf.flushed < 2*writebackBytes {
		t.Fatalf("%d of %d bytes handed to writeback", pf.flushed, pf.written)
	}
	if err := pf.finish(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "t.csv"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, len(want))
	}
}

// On Linux the kernel takes a staged file's writeback requests; a File
// that is not an operating system file (the tests' fault-injecting
// ones) is left to its fsync.
func TestStartWritebackReachesTheKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sync_file_range is Linux's")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if !startWriteback(f, 0, 1<<20) {
		t.Error("the kernel did not take the writeback of an os.File")
	}
	if startWriteback(struct{ File }{f}, 0, 1<<20) {
		t.Error("a File that is not a syscall.Conn was handed to the kernel")
	}
}
