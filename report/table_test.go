package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withBatch sets the rows per hand-off to a table's writer goroutine.
func withBatch(n int) TableOption { return func(o *tableOptions) { o.batch = n } }

// auditRow is an unpartitioned run summary.
type auditRow struct {
	Key   string `parquet:"key,dict"`
	Count int64  `parquet:"count"`
}

// writeMixedSet writes, as an evaluation does, interleaved rows of three
// tables into a day-partitioned set (windows over three days, keys by
// first_seen, one flat table) with batch rows per hand-off, and commits.
func writeMixedSet(t *testing.T, dir string, batch int) {
	t.Helper()
	wins := genWindows(30_000, 300, day0, 3)
	last := day0.Add(3*24*time.Hour - time.Second)
	set, err := NewSet(dir, []Format{CSV, Parquet}, WithPartition(PartitionDay, day0, last))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	windows, err := NewTable(set, tableOf[winRow]("windows"), withBatch(batch))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewTable(set, tableOf[keyRow]("keys"), withBatch(batch))
	if err != nil {
		t.Fatal(err)
	}
	audit, err := NewTable(set, tableOf[auditRow]("audit"), withBatch(batch))
	if err != nil {
		t.Fatal(err)
	}
	var nKeys int64
	for i := range wins {
		if err := windows.Write(&wins[i]); err != nil {
			t.Fatal(err)
		}
		if i+1 < len(wins) && wins[i+1].Key == wins[i].Key {
			continue
		}
		// The key's last window: its summary rows follow.
		k := keyRow{Key: wins[i].Key, Requests: int64(i), FirstSeen: wins[i].WindowStart}
		if err := keys.Write(&k); err != nil {
			t.Fatal(err)
		}
		a := auditRow{Key: wins[i].Key, Count: int64(i)}
		if err := audit.Write(&a); err != nil {
			t.Fatal(err)
		}
		nKeys++
	}
	if windows.Rows() != int64(len(wins)) || keys.Rows() != nKeys || audit.Rows() != nKeys {
		t.Errorf("Rows() = %d, %d, %d; want %d, %d, %d", windows.Rows(), keys.Rows(), audit.Rows(), len(wins), nKeys, nKeys)
	}
	if err := set.Commit(context.Background(), rowsManifest("windows", int(windows.Rows()))); err != nil {
		t.Fatal(err)
	}
}

// TestBatchedWritesMatchSynchronous: tables written through their writer
// goroutines, in batches of any size and across partitions, are byte for
// byte those written with every row on the caller's goroutine (a batch
// larger than the table is written by Commit itself).
func TestBatchedWritesMatchSynchronous(t *testing.T) {
	want := t.TempDir()
	writeMixedSet(t, want, 100_000) // more than the set's rows
	wantTree := tree(t, want)
	if len(wantTree) != 3*2*2+2+1 {
		t.Fatalf("synchronous set holds %v", keysOf(wantTree))
	}
	for _, batch := range []int{1, 7, rowBatch} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			dir := t.TempDir()
			writeMixedSet(t, dir, batch)
			got := tree(t, dir)
			if len(got) != len(wantTree) {
				t.Errorf("files %v, want %v", keysOf(got), keysOf(wantTree))
			}
			for name, content := range wantTree {
				if got[name] != content {
					t.Errorf("%s differs from the synchronous write", name)
				}
			}
			checkNoWriters(t)
		})
	}
}

// limitFS fails writes past limit bytes into files of one table.
type limitFS struct {
	OSFS
	table string
	limit int64
}

func (f *limitFS) CreateTemp(dir, pattern string) (File, error) {
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if err != nil || !strings.Contains(pattern, f.table) && !strings.Contains(dir, f.table) {
		return file, err
	}
	return &faultFile{File: file, fs: &faultFS{writeLimit: f.limit}}, nil
}

// TestWriteFailureStopsWrites: a table whose files fail (a full disk)
// reports it, naming itself, from Write within a few batches, so the
// caller stops early; from Commit when it has fewer rows than a batch.
// Either way the set leaves nothing behind, and no goroutine.
func TestWriteFailureStopsWrites(t *testing.T) {
	for _, c := range []struct {
		name      string
		rows      int
		fromWrite bool
	}{{"many rows", 200_000, true}, {"one batch", rowBatch - 1, false}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			set, err := NewSetFS(dir, []Format{CSV, Parquet}, &limitFS{table: "windows", limit: 4096})
			if err != nil {
				t.Fatal(err)
			}
			windows, err := NewTable(set, tableOf[winRow]("windows"))
			if err != nil {
				t.Fatal(err)
			}
			other, err := NewTable(set, tableOf[winRow]("other"))
			if err != nil {
				t.Fatal(err)
			}
			rows := genWindows(c.rows, 100, day0, 1)
			var werr error
			written := 0
			for i := range rows {
				if werr = other.Write(&rows[i]); werr != nil {
					t.Fatalf("healthy table: %v", werr)
				}
				if werr = windows.Write(&rows[i]); werr != nil {
					break
				}
				written++
			}
			if c.fromWrite {
				// The first bytes to reach the file fail: those of the
				// CSV writer's 64 KiB buffer, full in the second batch. The
				// caller is then at most the queue and two batches ahead.
				if limit := 16 * rowBatch; werr == nil || written > limit {
					t.Errorf("Write returned %v after %d rows, want the error within %d rows", werr, written, limit)
				}
				if err := windows.Write(&rows[0]); !errors.Is(err, werr) {
					t.Errorf("Write after the error returned %v", err)
				}
			} else if werr != nil {
				t.Errorf("Write failed (%v) though no batch was handed off", werr)
			}
			cerr := set.Commit(context.Background(), nil)
			if cerr == nil || werr != nil && !errors.Is(cerr, werr) {
				t.Errorf("Commit returned %v, Write %v", cerr, werr)
			}
			for _, err := range []error{werr, cerr} {
				if err != nil && (!strings.HasPrefix(err.Error(), "windows: ") || !errors.Is(err, syscall.ENOSPC)) {
					t.Errorf("error %q: want the table named and ENOSPC", err)
				}
			}
			if m := tree(t, dir); len(m) != 0 {
				t.Errorf("left behind %v", keysOf(m))
			}
			checkNoWriters(t)
		})
	}
}

// TestAbortStopsWriters: Abort in the middle of a partitioned run, with
// writer goroutines busy, leaves neither files nor goroutines.
func TestAbortStopsWriters(t *testing.T) {
	dir := t.TempDir()
	set, err := NewSet(dir, []Format{CSV, Parquet}, WithPartition(PartitionDay, day0, day0.Add(48*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	windows, err := NewTable(set, tableOf[winRow]("windows"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewTable(set, tableOf[keyRow]("keys"))
	if err != nil {
		t.Fatal(err)
	}
	rows := genWindows(50_000, 500, day0, 2)
	for i := range rows[:len(rows)/2] {
		k := keyRow{Key: rows[i].Key, FirstSeen: rows[i].WindowStart}
		if err := windows.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
		if err := keys.Write(&k); err != nil {
			t.Fatal(err)
		}
	}
	set.Abort()
	if m := tree(t, dir); len(m) != 0 {
		t.Errorf("left behind %v", keysOf(m))
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Errorf("abort left the staging directory (%v)", err)
	}
	checkNoWriters(t)
}

// checkNoWriters fails unless every table writer goroutine has returned.
// wait returns once a writer closed its done channel, which it does as
// it returns: a moment later it is gone.
func checkNoWriters(t *testing.T) {
	t.Helper()
	var stacks string
	for range 1000 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, ").run(") {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("table writer goroutines outlive their set:\n%s", stacks)
}

// The Write that brings a row out of order fails at once, naming the
// table, even while a writer goroutine holds earlier rows.
func TestOutOfOrderFailsItsWrite(t *testing.T) {
	set, err := NewSet(t.TempDir(), []Format{CSV})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	tab, err := NewTable(set, tableOf[winRow]("windows"), withBatch(2))
	if err != nil {
		t.Fatal(err)
	}
	rows := genWindows(10, 1, day0, 1)
	rows[7], rows[8] = rows[8], rows[7]
	for i := range rows {
		err := tab.Write(&rows[i])
		if (err != nil) != (i == 8) {
			t.Fatalf("row %d: err = %v", i, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "windows: rows out of the declared order") {
			t.Errorf("error %q", err)
		}
	}
}
