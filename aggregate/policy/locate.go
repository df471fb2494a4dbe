package policy

import (
	"sort"
	"strconv"
	"strings"
)

// locate maps every key path of a TOML document to the line it is
// defined on, so validation errors can name lines. The TOML library
// keeps positions private, so this is a small scanner over a document the
// library has already accepted (it assumes valid syntax and never fails).
//
// Paths join keys with dots and index array elements: "default_plan",
// "plans.free", "plans.free.limits[2].window", "keys.k_0123". Arrays of
// tables ([[plans.free.limits]]) index the same way.
func locate(src string) map[string]int {
	l := &locator{src: src, lines: map[string]int{}, aot: map[string]int{}}
	for i := range src {
		if src[i] == '\n' {
			l.starts = append(l.starts, i+1)
		}
	}
	l.document()
	return l.lines
}

type locator struct {
	src    string
	pos    int
	starts []int // offsets of the starts of lines 2, 3, ...
	lines  map[string]int
	aot    map[string]int // elements seen per array-of-tables path
}

func (l *locator) line() int {
	return 1 + sort.SearchInts(l.starts, l.pos+1)
}

// mark records the line of path's first appearance. An empty path is a
// real key too: TOML allows a quoted empty key, two single or two double
// quotes (fuzzing found it).
func (l *locator) mark(path string) {
	if _, ok := l.lines[path]; !ok {
		l.lines[path] = l.line()
	}
}

func (l *locator) peek(off int) byte {
	if l.pos+off < len(l.src) {
		return l.src[l.pos+off]
	}
	return 0
}

// space skips blanks, and also newlines and comments when nl is set.
func (l *locator) space(nl bool) {
	for l.pos < len(l.src) {
		switch c := l.src[l.pos]; {
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case nl && c == '\n':
			l.pos++
		case nl && c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

func join(prefix string, keys []string) string {
	p := prefix
	for _, k := range keys {
		if p != "" {
			p += "."
		}
		p += k
	}
	return p
}

func (l *locator) document() {
	prefix := ""
	for {
		l.space(true)
		if l.pos >= len(l.src) {
			return
		}
		if l.peek(0) == '[' {
			aot := l.peek(1) == '['
			if aot {
				l.pos += 2
			} else {
				l.pos++
			}
			l.space(false)
			keys := l.key()
			for i := 1; i < len(keys); i++ { // [a.b] also defines a
				l.mark(join("", keys[:i]))
			}
			path := join("", keys)
			l.space(false)
			for l.pos < len(l.src) && l.src[l.pos] == ']' {
				l.pos++
			}
			if aot {
				l.mark(path)
				i := l.aot[path]
				l.aot[path]++
				path += "[" + strconv.Itoa(i) + "]"
			}
			l.mark(path)
			prefix = path
			continue
		}
		before := l.pos
		l.keyval(prefix)
		if l.pos == before { // cannot happen in valid TOML; never loop
			l.pos++
		}
	}
}

// keyval reads "key = value" under prefix.
func (l *locator) keyval(prefix string) {
	keys := l.key()
	for i := 1; i < len(keys); i++ {
		l.mark(join(prefix, keys[:i]))
	}
	path := join(prefix, keys)
	l.mark(path)
	l.space(false)
	if l.peek(0) == '=' {
		l.pos++
	}
	l.value(path)
}

// key reads a possibly dotted key.
func (l *locator) key() []string {
	var parts []string
	for {
		l.space(false)
		switch l.peek(0) {
		case '"':
			parts = append(parts, unquoteKey(l.basicString()))
		case '\'':
			s := l.literalString()
			parts = append(parts, s[1:max(1, len(s)-1)])
		default:
			start := l.pos
			for l.pos < len(l.src) && isBare(l.src[l.pos]) {
				l.pos++
			}
			parts = append(parts, l.src[start:l.pos])
		}
		l.space(false)
		if l.peek(0) != '.' {
			return parts
		}
		l.pos++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func unquoteKey(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return strings.Trim(s, `"`)
}

// value reads one value, recording the lines of array elements and of
// inline tables' keys.
func (l *locator) value(path string) {
	l.space(false)
	switch l.peek(0) {
	case '"':
		l.basicString()
	case '\'':
		l.literalString()
	case '[':
		l.pos++
		for i := 0; ; i++ {
			l.space(true)
			if l.pos >= len(l.src) || l.peek(0) == ']' {
				l.pos++
				return
			}
			elem := path + "[" + strconv.Itoa(i) + "]"
			l.mark(elem)
			before := l.pos
			l.value(elem)
			l.space(true)
			if l.peek(0) == ',' {
				l.pos++
			} else if l.pos == before { // cannot happen in valid TOML; never loop
				l.pos++
			}
		}
	case '{':
		l.pos++
		for {
			l.space(true)
			if l.pos >= len(l.src) || l.peek(0) == '}' {
				l.pos++
				return
			}
			before := l.pos
			l.keyval(path)
			l.space(true)
			if l.peek(0) == ',' {
				l.pos++
			} else if l.pos == before {
				l.pos++
			}
		}
	default:
		for l.pos < len(l.src) && !strings.ContainsRune(",]}\n#", rune(l.src[l.pos])) {
			l.pos++
		}
	}
}

// basicString reads a "..." or """...""" string and returns its source.
func (l *locator) basicString() string {
	start := l.pos
	if strings.HasPrefix(l.src[l.pos:], `"""`) {
		l.pos += 3
		for l.pos < len(l.src) && !strings.HasPrefix(l.src[l.pos:], `"""`) {
			if l.src[l.pos] == '\\' {
				l.pos++
			}
			l.pos++
		}
		l.pos += 3
		for l.pos < len(l.src) && l.src[l.pos] == '"' { // up to 2 quotes may close content
			l.pos++
		}
		return l.src[start:min(l.pos, len(l.src))]
	}
	l.pos++
	for l.pos < len(l.src) && l.src[l.pos] != '"' && l.src[l.pos] != '\n' {
		if l.src[l.pos] == '\\' {
			l.pos++
		}
		l.pos++
	}
	l.pos++
	return l.src[start:min(l.pos, len(l.src))]
}

// literalString reads a '...' or ”'...”' string and returns its source.
func (l *locator) literalString() string {
	start := l.pos
	if strings.HasPrefix(l.src[l.pos:], `'''`) {
		end := strings.Index(l.src[l.pos+3:], `'''`)
		if end < 0 {
			l.pos = len(l.src)
		} else {
			l.pos += 3 + end + 3
		}
		for l.pos < len(l.src) && l.src[l.pos] == '\'' {
			l.pos++
		}
		return l.src[start:l.pos]
	}
	end := strings.IndexAny(l.src[l.pos+1:], "'\n")
	if end < 0 {
		l.pos = len(l.src)
	} else {
		l.pos += 1 + end + 1
	}
	return l.src[start:min(l.pos, len(l.src))]
}
