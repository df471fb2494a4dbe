package parse

import (
	"bytes"
	"strings"
)

// KeyHints calls fn with the key source spec (query:NAME, header:NAME,
// cookie:NAME or field:NAME, as --key takes them) of every value of rec
// that looks like an API key: its name says so (key, token, auth,
// secret, ...) or its value looks like one (16 to 256 characters of
// letters, digits and -_.~, with both letters and digits). It is what a
// run reports when most lines have no key: which --key would find them.
// Only names are handed out, never values. It allocates the specs: it is
// meant for a sample of keyless lines, not every line.
func KeyHints(rec *Record, fn func(spec string)) {
	query := rec.Query()
	for len(query) > 0 {
		pair := query
		if i := bytes.IndexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = nil
		}
		name, val, ok := bytes.Cut(pair, []byte{'='})
		if !ok || len(name) == 0 || len(val) == 0 || len(name) > 64 {
			continue
		}
		if keyName(string(name)) || keyValue(val) {
			fn("query:" + string(name))
		}
	}
	for i := range rec.Fields {
		f := &rec.Fields[i]
		v := dashless(f.Value)
		if len(v) == 0 || !(keyName(f.Name) || keyValue(v)) {
			continue
		}
		switch {
		case strings.HasPrefix(f.Name, "http_"):
			fn("header:" + strings.ReplaceAll(f.Name[len("http_"):], "_", "-"))
		case strings.HasPrefix(f.Name, "cookie_"):
			fn("cookie:" + f.Name[len("cookie_"):])
		default:
			fn("field:" + f.Name)
		}
	}
}

// keyWords are the parts of names that APIs give their keys.
var keyWords = []string{"key", "token", "auth", "secret", "credential", "access", "apikey", "client_id", "app_id", "appid", "signature"}

func keyName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range keyWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func keyValue(v []byte) bool {
	if len(v) < 16 || len(v) > 256 {
		return false
	}
	var letter, digit bool
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9':
			digit = true
		case c == '-' || c == '_' || c == '.' || c == '~':
		default:
			return false
		}
	}
	return letter && digit
}
