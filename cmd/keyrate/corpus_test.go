package main

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

func corpusDir(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(here), "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not found at %s (expected ../shared/corpus next to the repository)", dir)
	}
	return dir
}

var clfLine = regexp.MustCompile(`\[([^\]]+)\] "[A-Z]+ ([^ "]*)`)

// referenceKeyed counts, per UTC date and per key, the requests of a
// combined log whose query has one of params (first non-empty wins), with
// the standard library's parsers: a reference independent of keyrate's.
func referenceKeyed(t *testing.T, path string, params []string) map[string]map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := clfLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[1])
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		_, rawQuery, ok := strings.Cut(m[2], "?")
		if !ok {
			continue
		}
		q, _ := url.ParseQuery(rawQuery)
		key := ""
		for _, p := range params {
			if v := q.Get(p); v != "" {
				key = v
				break
			}
		}
		if key == "" {
			continue
		}
		d := ts.UTC().Format(time.DateOnly)
		if out[d] == nil {
			out[d] = map[string]int64{}
		}
		out[d][key]++
	}
	return out
}

// TestCorpusPartitions runs real logs (one with a +0330 offset, so local
// and UTC dates differ) through --partition day and reads every keys
// partition back with Arrow: per date and key, the requests must equal a
// reference computed with the standard library.
func TestCorpusPartitions(t *testing.T) {
	corpus := corpusDir(t)
	for _, c := range []struct {
		file   string
		params []string
	}{
		{"combined-elastic-examples.log", []string{"flav", "sa", "utm_source", "page", "f"}},
		{"combined-xff-lnav-shop.log", []string{"page", "name", "model", "f"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join(corpus, c.file)
			want := referenceKeyed(t, path, c.params)
			if len(want) == 0 {
				t.Fatal("reference found no keyed requests")
			}
			var keySources []string
			for _, p := range c.params {
				keySources = append(keySources, "query:"+p)
			}
			out := t.TempDir()
			mustAnalyze(t, "--key", strings.Join(keySources, ","), "--limit", "5/min", "--partition", "day", "--max-bad-ratio", "1", "--out", out, path)
			got := map[string]map[string]int64{}
			parts, _ := filepath.Glob(filepath.Join(out, "keys", "date=*", "part-0.parquet"))
			for _, p := range parts {
				date := strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "date=")
				rdr, err := file.OpenParquetFile(p, false)
				if err != nil {
					t.Fatal(err)
				}
				fr, _ := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				tbl, err := fr.ReadTable(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				tr := array.NewTableReader(tbl, 1024)
				for tr.Next() {
					rec := tr.Record()
					keys := rec.Column(0).(*array.String)
					reqs := rec.Column(rec.Schema().FieldIndices("requests")[0]).(*array.Int64)
					for i := range int(rec.NumRows()) {
						if got[date] == nil {
							got[date] = map[string]int64{}
						}
						got[date][keys.Value(i)] += reqs.Value(i)
					}
				}
				tr.Release()
				tbl.Release()
				rdr.Close()
			}
			for d, keys := range want {
				for k, n := range keys {
					if got[d][k] != n {
						t.Errorf("date %s key %q: %d requests, reference %d", d, k, got[d][k], n)
					}
				}
			}
			for d, keys := range got {
				for k := range keys {
					if _, ok := want[d][k]; !ok {
						t.Errorf("date %s: key %q not in the reference", d, k)
					}
				}
			}
		})
	}
}
