package parse

import (
	"fmt"
	"strings"
)

// DefaultKeySources is the --key default: the query parameters API
// providers most often use for keys.
var DefaultKeySources = []string{"query:api_key", "query:apikey", "query:key"}

// keySource finds a raw (still encoded) key candidate in a record.
type keySource interface {
	find(rec *Record) []byte
}

// queryParam reads a query-string parameter of the request target.
type queryParam struct{ name []byte }

func (q queryParam) find(rec *Record) []byte {
	query := rec.Query()
	for len(query) > 0 {
		pair := query
		if i := indexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = nil
		}
		if len(pair) > len(q.name) && pair[len(q.name)] == '=' && string(pair[:len(q.name)]) == string(q.name) {
			if v := pair[len(q.name)+1:]; len(v) > 0 {
				return v
			}
		}
	}
	return nil
}

// KeyExtractor applies an ordered list of key sources to a record; the
// first non-empty value wins and is URL-decoded.
type KeyExtractor struct {
	sources []keySource
	buf     []byte
}

// NewKeyExtractor compiles key source specs such as "query:api_key".
func NewKeyExtractor(specs []string) (*KeyExtractor, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("no key source given")
	}
	k := &KeyExtractor{}
	for _, spec := range specs {
		src, err := compileKeySource(spec)
		if err != nil {
			return nil, err
		}
		k.sources = append(k.sources, src)
	}
	return k, nil
}

func compileKeySource(spec string) (keySource, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "query":
		if arg == "" {
			return nil, fmt.Errorf("key source %q: query needs a parameter name, as in query:api_key", spec)
		}
		return queryParam{name: []byte(arg)}, nil
	}
	return nil, fmt.Errorf("key source %q: unknown kind %q (want query:NAME)", spec, kind)
}

// Extract returns the decoded key of rec, or nil when no source yields
// one. The result is valid until the next call to Extract.
func (k *KeyExtractor) Extract(rec *Record) []byte {
	for _, src := range k.sources {
		if raw := src.find(rec); len(raw) > 0 {
			k.buf = appendUnescaped(k.buf[:0], raw)
			if len(k.buf) > 0 {
				return k.buf
			}
		}
	}
	return nil
}

// appendUnescaped appends the URL-decoded form of s ('+' is a space,
// %XX a byte) to dst. A malformed escape is kept literally rather than
// rejected: the key still identifies the caller.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
