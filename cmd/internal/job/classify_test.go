package job

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zeebo/xxh3"

	"github.com/keyrate/keyrate/aggregate/pipeline"
	"github.com/keyrate/keyrate/report/dataset"
)

// files is an identifier over contents held in memory.
type files map[string][]byte

func (f files) head(_ context.Context, path string) (head, error) {
	b, ok := f[path]
	if !ok {
		return head{}, fmt.Errorf("%s: no such file", path)
	}
	n := min(len(b), pipeline.HeadBytes)
	return head{bytes: b[:n], complete: n == len(b)}, nil
}

func (f files) identify(_ context.Context, path string, at []int64) (pipeline.Identity, []string, error) {
	b, ok := f[path]
	if !ok {
		return pipeline.Identity{}, nil, fmt.Errorf("%s: no such file", path)
	}
	sums := make([]string, len(at))
	for i, n := range at {
		if n <= int64(len(b)) {
			sums[i] = hashOf(b[:n])
		}
	}
	return identityOf(b), sums, nil
}

func hashOf(b []byte) string { return pipeline.HexHash(xxh3.Hash128(b)) }

func identityOf(b []byte) pipeline.Identity {
	return pipeline.Identity{Length: int64(len(b)), Hash: hashOf(b), Head: hashOf(b[:min(len(b), pipeline.HeadBytes)])}
}

func entryOf(path string, b []byte) dataset.Entry {
	id := identityOf(b)
	return dataset.Entry{ID: id.Hash, Length: id.Length, Head: id.Head, Path: path}
}

// logLines returns n distinct lines.
func logLines(from, n int) []byte {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "10.0.0.1 - - [23/Nov/2026:10:00:%02d +0000] \"GET /v1/x?api_key=k%d HTTP/1.1\" 200 12\n", i%60, i)
	}
	return []byte(b.String())
}

func TestClassify(t *testing.T) {
	long := logLines(0, 4000) // beyond HeadBytes
	if len(long) < 3*pipeline.HeadBytes {
		t.Fatalf("the test wants inputs longer than the head: %d bytes", len(long))
	}
	short := logLines(10000, 10) // within HeadBytes
	other := logLines(20000, 4000)
	fs := files{
		"/old/live":      long[:len(long)/2], // read before: the start of long
		"/old/short":     short[:len(short)/2],
		"/old/rotated":   long,
		"/new/rotated":   long,
		"/new/copy":      long,
		"/new/half":      long[:len(long)/2],
		"/new/third":     long[:len(long)/3],
		"/new/short":     short,
		"/new/other":     other,
		"/new/other.bak": other,
	}
	cases := []struct {
		name   string
		ledger []dataset.Entry
		paths  []string
		want   []string // kinds, in paths' order
	}{
		{"new content", nil, []string{"/new/other"}, []string{kindNew}},
		{"same content under another name", []dataset.Entry{entryOf("/old/rotated", long)},
			[]string{"/new/copy"}, []string{kindDuplicate}},
		{"a live log read before has grown", []dataset.Entry{entryOf("/old/live", long[:len(long)/2])},
			[]string{"/new/rotated"}, []string{kindGrown}},
		{"a short live log has grown", []dataset.Entry{entryOf("/old/short", short[:len(short)/2])},
			[]string{"/new/short"}, []string{kindGrown}},
		{"the start of a file read before, still there", []dataset.Entry{entryOf("/old/rotated", long)},
			[]string{"/new/half"}, []string{kindContained}},
		{"the start of a file read before, gone", []dataset.Entry{entryOf("/gone", long)},
			[]string{"/new/half"}, []string{kindNew}},
		{"equal inputs in one run", nil,
			[]string{"/new/other", "/new/other.bak"}, []string{kindNew, kindDuplicate}},
		{"an input and its start in one run", nil,
			[]string{"/new/third", "/new/rotated", "/new/half"}, []string{kindContained, kindNew, kindContained}},
		{"grown, with its start also given", []dataset.Entry{entryOf("/old/live", long[:len(long)/3])},
			[]string{"/new/half", "/new/rotated"}, []string{kindContained, kindGrown}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plans, err := classify(context.Background(), fs, &dataset.Ledger{Entries: c.ledger}, c.paths)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range plans {
				if p.kind != c.want[i] {
					t.Errorf("%s: %s, want %s", p.path, p.kind, c.want[i])
				}
			}
		})
	}
}
