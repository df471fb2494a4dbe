package html

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// group writes v with thousands separators, 1,234,567, as en-US does:
// search.js formats the index's numbers the same way.
func group(v int64) string {
	var buf [32]byte
	s := strconv.AppendInt(buf[:0], v, 10)
	digits := s
	out := make([]byte, 0, len(s)+len(s)/3)
	if v < 0 {
		out = append(out, '-')
		digits = s[1:]
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, d)
	}
	return string(out)
}

// pct is part as a percentage of whole with one decimal, or "–" when whole
// is 0.
func pct(part, whole int64) string {
	if whole == 0 {
		return "–"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// count writes n and the noun, in the plural unless n is 1: "1 request",
// "1,200 requests".
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return group(n) + " " + noun + "s"
}

// utc writes t to the second in UTC, or "–" for the zero time.
func utc(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// keyText shows s as text with its invisible characters made visible:
// controls and format characters (right-to-left overrides, zero-width
// spaces) appear as a marked U+XXXX, so "k_\u202etxt.exe" cannot pass for
// "k_exe.txt". search.js does the same.
func keyText(s string) template.HTML {
	i := strings.IndexFunc(s, hidden)
	if i < 0 {
		return template.HTML(template.HTMLEscapeString(s))
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(template.HTMLEscapeString(s[:i]))
		r, size := utf8.DecodeRuneInString(s[i:])
		fmt.Fprintf(&b, `<span class="cc">U+%04X</span>`, r)
		s = s[i+size:]
		i = strings.IndexFunc(s, hidden)
	}
	b.WriteString(template.HTMLEscapeString(s))
	return template.HTML(b.String())
}

func hidden(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }
