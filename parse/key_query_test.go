package parse

import (
	"strings"
	"testing"
)

func TestKeyExtractor(t *testing.T) {
	tests := []struct {
		name    string
		sources []string
		target  string
		want    string // "" means no key
	}{
		{"first default source", DefaultKeySources, "/v1?api_key=abc", "abc"},
		{"later default source", DefaultKeySources, "/v1?q=1&key=k2", "k2"},
		{"priority order wins over position", DefaultKeySources, "/v1?key=low&apikey=mid&api_key=high", "high"},
		{"empty value falls through", DefaultKeySources, "/v1?api_key=&key=k3", "k3"},
		{"url-decoded", DefaultKeySources, "/v1?api_key=a%2Bb%20c+d", "a+b c d"},
		{"malformed escape kept literally", DefaultKeySources, "/v1?api_key=50%zz%4", "50%zz%4"},
		{"no query", DefaultKeySources, "/v1/items", ""},
		{"name must match exactly", DefaultKeySources, "/v1?my_api_key=x&api_keys=y", ""},
		{"first occurrence of a repeated name", DefaultKeySources, "/v1?api_key=one&api_key=two", "one"},
		{"custom source", []string{"query:token"}, "/v1?api_key=x&token=t0k", "t0k"},
		{"fragment-free value with equals", []string{"query:k"}, "/v1?k=a=b", "a=b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKeyExtractor(tc.sources)
			if err != nil {
				t.Fatal(err)
			}
			rec := Record{Target: []byte(tc.target), HasRequest: true}
			if got := string(k.Extract(&rec)); got != tc.want {
				t.Errorf("Extract(%q) = %q, want %q", tc.target, got, tc.want)
			}
		})
	}
}

func TestKeyExtractorRejectsBadSpecs(t *testing.T) {
	for _, spec := range []string{"query:", "query", "bogus:x"} {
		_, err := NewKeyExtractor([]string{spec})
		if err == nil || !strings.Contains(err.Error(), spec) {
			t.Errorf("NewKeyExtractor(%q) error = %v, want one naming the spec", spec, err)
		}
	}
	if _, err := NewKeyExtractor(nil); err == nil {
		t.Error("NewKeyExtractor(nil) accepted no sources")
	}
}

// TestQueryNameWords checks the word-at-a-time matching of query names
// and the escape check against their byte-by-byte definitions, at every
// length around the 8-byte words.
func TestQueryNameWords(t *testing.T) {
	names := []string{"k", "key", "apikey", "api_key", "api_keys", "a_longer_name"}
	values := []string{"", "v", "abc", "k0123456789abcdef"}
	for _, name := range names {
		q := newQueryName(name)
		for _, pname := range append(names, "api", "api_ke", "api-key", "API_KEY") {
			for _, sep := range []string{"=", "", "&", "=="} {
				for _, v := range values {
					pair := []byte(pname + sep + v)
					var want []byte
					n := len(name)
					if len(pair) > n+1 && pair[n] == '=' && string(pair[:n]) == name {
						want = pair[n+1:]
					}
					if got := q.value(pair); string(got) != string(want) || (got == nil) != (want == nil) {
						t.Errorf("%q.value(%q) = %q, want %q", name, pair, got, want)
					}
				}
			}
		}
	}
	for n := range 20 {
		for at := -1; at < n; at++ {
			for _, c := range []byte{'%', '+', '*', 0xa5, 0xab} {
				s := []byte(strings.Repeat("a", n))
				if at >= 0 {
					s[at] = c
				}
				want := strings.ContainsAny(string(s), "%+")
				if got := needsUnescape(s); got != want {
					t.Errorf("needsUnescape(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}
