package parse

import (
	"bufio"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// quotedReference is the byte loop quoted() had before its SIMD fast
// path: the fast path must never change what a field is.
func quotedReference(buf []byte, pos int) ([]byte, int, bool) {
	for pos < len(buf) && buf[pos] == ' ' {
		pos++
	}
	if pos >= len(buf) || buf[pos] != '"' {
		return nil, pos, false
	}
	start := pos + 1
	for i := start; i < len(buf); i++ {
		switch buf[i] {
		case '\\':
			i++
		case '"':
			if i+1 == len(buf) || buf[i+1] == ' ' {
				return buf[start:i], i + 1, true
			}
		}
	}
	return nil, pos, false
}

func TestQuotedFastPathMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	alphabet := []byte(`ab "\ x`)
	for range 200000 {
		b := make([]byte, rng.IntN(16))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if rng.IntN(2) == 0 {
			b = append([]byte{'"'}, b...)
		}
		want, wantPos, wantOK := quotedReference(b, 0)
		s := scanner{buf: b}
		got, ok := s.quoted()
		if ok != wantOK || string(got) != string(want) || (ok && s.pos != wantPos) {
			t.Fatalf("%q: quoted() = %q %v pos %d, reference %q %v pos %d", b, got, ok, s.pos, want, wantOK, wantPos)
		}
	}
}

// TestCachedParserMatchesPlainOnCorpus parses every line of the real
// corpus with the time-cached parser and the zero Combined: same records,
// same errors, line by line (the cache must never leak across lines).
func TestCachedParserMatchesPlainOnCorpus(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	corpus := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	paths, _ := filepath.Glob(filepath.Join(corpus, "*.log"))
	if len(paths) == 0 {
		t.Skipf("corpus not found at %s (see the project's developer guide)", corpus)
	}
	lines := 0
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cached := NewCombined()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var a, b Record
			errA := Combined{}.Parse(sc.Bytes(), &a)
			errB := cached.Parse(sc.Bytes(), &b)
			if (errA == nil) != (errB == nil) || (errA != nil && errA.Error() != errB.Error()) || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: %q:\nplain  %+v %v\ncached %+v %v", filepath.Base(path), sc.Text(), a, errA, b, errB)
			}
			lines++
		}
		f.Close()
		if err := sc.Err(); err != nil && !strings.Contains(err.Error(), "too long") {
			t.Fatal(err)
		}
	}
	if lines == 0 {
		t.Fatal("corpus has no lines")
	}
}
