package parse

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestJSONLinesAgainstEncodingJSON writes objects with encoding/json
// (escapes, \u sequences, surrogate pairs, nesting, arrays) and checks
// that the hand-written scanner reads the same strings back.
func TestJSONLinesAgainstEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []rune("ab \"\\/\t\n\x01<>&é€😀\u2028z")
	str := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	p := NewJSONLines(nil, []string{"http_x_api_key", "tenant"})
	var rec Record
	for range 3000 {
		ua, key, uri, tenant := str(), str(), "/"+str(), str()
		obj := map[string]any{
			"ts":      1700000000.5,
			"status":  200,
			"noise":   []any{str(), map[string]any{"x": str(), "y": nil}, true, -1.5e3},
			"tenant":  tenant,
			"request": map[string]any{"uri": uri, "method": "GET", "headers": map[string]any{"User-Agent": []string{ua, str()}, "X-Api-Key": []string{key}}},
		}
		line, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Parse(line, &rec); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if !utf8.ValidString(ua) {
			continue
		}
		if string(rec.UserAgent) != ua && !(ua == "-" && rec.UserAgent == nil) {
			t.Fatalf("%s: user agent %q, want %q", line, rec.UserAgent, ua)
		}
		if string(rec.Target) != uri || string(rec.Field("http_x_api_key")) != key || string(rec.Field("tenant")) != tenant {
			t.Fatalf("%s: target %q key %q tenant %q", line, rec.Target, rec.Field("http_x_api_key"), rec.Field("tenant"))
		}
		if rec.TimeMillis != 1700000000500 || rec.Status != 200 {
			t.Fatalf("%s: time %d status %d", line, rec.TimeMillis, rec.Status)
		}
	}
}
