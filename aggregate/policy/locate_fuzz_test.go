package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzLocate checks that the line scanner terminates without panicking on
// every document the TOML parser accepts, and that each top-level key it
// reports sits on a real line.
func FuzzLocate(f *testing.F) {
	for _, name := range []string{"example.toml", "bad.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("a = [[1, 2], [\"x]\", 'y]']]\nb = { c = { d = 1 } }\n'lit.key' = '''\n]\n'''\n")
	f.Fuzz(func(t *testing.T, src string) {
		var doc map[string]any
		if _, err := toml.Decode(src, &doc); err != nil {
			return
		}
		lines := locate(src)
		n := 1
		for _, c := range src {
			if c == '\n' {
				n++
			}
		}
		for path, line := range lines {
			if line < 1 || line > n {
				t.Fatalf("%s at line %d of %d", path, line, n)
			}
		}
		for k := range doc {
			if _, ok := lines[k]; !ok {
				t.Fatalf("top-level key %q not located in %q", k, src)
			}
		}
	})
}
