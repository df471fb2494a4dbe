//go:build unix

package report

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReportFilesHonourUmask: report files get a new file's permissions
// (0666 less the umask), not os.CreateTemp's 0600, so that a warehouse
// loader running as another user can read them.
func TestReportFilesHonourUmask(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := writeFaultSet(dir, OSFS{}, 10, "run"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.csv", "a.parquet", "manifest.json"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != 0o640 {
			t.Errorf("%s: mode %v, want -rw-r----- (0666 less umask 027)", name, got)
		}
	}
}
