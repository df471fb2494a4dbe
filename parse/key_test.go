package parse

import (
	"net/url"
	"regexp"
	"testing"
)

func TestKeySources(t *testing.T) {
	rec := Record{
		Target: []byte("/v1/keys/k%2F1/usage?api_key=q1&x=2"),
		User:   []byte("alice"),
		Fields: []Field{
			{Name: "http_x_api_key", Value: []byte("hk")},
			{Name: "http_cookie", Value: []byte("a=1; sid=c%3D9;+b=2")},
			{Name: "tenant", Value: []byte("t1")},
		},
	}
	cases := []struct {
		specs []string
		want  string // "" = no key
	}{
		{[]string{"query:api_key"}, "q1"},
		{[]string{"query:missing", "header:X-Api-Key"}, "hk"},
		{[]string{"header:x_api_key"}, "hk"},
		{[]string{"user"}, "alice"},
		{[]string{"path:/v1/keys/{key}/*"}, "k/1"},
		{[]string{"path:/v1/keys/{key}/usage"}, "k/1"},
		{[]string{"path:/v1/keys/{key}"}, ""},         // more segments than the template
		{[]string{"path:/v1/keys/{key}/usage/x"}, ""}, // fewer
		{[]string{"path:/v2/keys/{key}/*"}, ""},
		{[]string{"field:Tenant"}, "t1"},
		{[]string{"cookie:sid"}, "c=9"},
		{[]string{"cookie:b"}, "2"},
		{[]string{"cookie:none", "query:x"}, "2"},
	}
	for _, c := range cases {
		k, err := NewKeyExtractor(c.specs)
		if err != nil {
			t.Fatalf("%v: %v", c.specs, err)
		}
		if got := string(k.Extract(&rec)); got != c.want {
			t.Errorf("%v: key = %q, want %q", c.specs, got, c.want)
		}
	}
	// A logged cookie variable ($cookie_sid, %{sid}C) wins over the header.
	rec.Fields = append(rec.Fields, Field{Name: "cookie_sid", Value: []byte("direct")})
	k, _ := NewKeyExtractor([]string{"cookie:sid"})
	if got := string(k.Extract(&rec)); got != "direct" {
		t.Errorf("cookie_sid field: key = %q", got)
	}
	// "-" is no user.
	k, _ = NewKeyExtractor([]string{"user"})
	if got := k.Extract(&Record{User: []byte("-")}); got != nil {
		t.Errorf("user '-' gave key %q", got)
	}
	// Wanted fields are announced to the formats.
	k, _ = NewKeyExtractor([]string{"header:X-Api-Key", "cookie:sid", "field:Tenant", "query:a"})
	if f := k.Fields(); len(f) != 4 || f[0] != "http_x_api_key" || f[1] != "cookie_sid" || f[2] != "http_cookie" || f[3] != "tenant" {
		t.Errorf("Fields() = %v", f)
	}
	for _, bad := range []string{"query:", "header:", "field:", "cookie:", "user:x", "path:v1/{key}", "path:/v1/x", "path:/{key}/{key}", "path:/a{key}", "nope:x"} {
		if _, err := NewKeyExtractor([]string{bad}); err == nil {
			t.Errorf("NewKeyExtractor(%q) succeeded", bad)
		}
	}
}

func TestKeyPattern(t *testing.T) {
	re, err := CompileKeyPattern(`[a-z]{2}_[0-9a-f]{8}`)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := NewKeyExtractor([]string{"query:key", "query:api_key"})
	k.SetPattern(re)
	cases := []struct {
		target   string
		want     string
		rejected bool
	}{
		{"/?key=sk_0123abcd", "sk_0123abcd", false},
		{"/?key=sk_0123abcdX", "", true},                          // anchored: no partial match
		{"/?key=hello&api_key=pk_deadbeef", "pk_deadbeef", false}, // falls through to the next source
		{"/?other=1", "", false},
	}
	for _, c := range cases {
		rec := Record{Target: []byte(c.target)}
		got := k.Extract(&rec)
		if string(got) != c.want || k.Rejected() != c.rejected {
			t.Errorf("%s: key %q rejected %v; want %q, %v", c.target, got, k.Rejected(), c.want, c.rejected)
		}
	}
	if _, err := CompileKeyPattern("("); err == nil {
		t.Error("CompileKeyPattern accepted a bad expression")
	}
	if re, err := CompileKeyPattern(""); re != nil || err != nil {
		t.Error("empty pattern should mean no pattern")
	}
}

// TestUnescapeAgainstNetURL checks appendUnescaped against net/url on
// well-formed escapes.
func TestUnescapeAgainstNetURL(t *testing.T) {
	for _, s := range []string{"a+b", "%41%42", "k%2F1", "%E2%82%AC", "plain", "a%20b%2b"} {
		want, err := url.QueryUnescape(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendUnescaped(nil, []byte(s))); got != want {
			t.Errorf("unescape(%q) = %q, want %q", s, got, want)
		}
	}
	if got := string(appendUnescaped(nil, []byte("bad%zz%4"))); got != "bad%zz%4" {
		t.Errorf("malformed escapes: %q", got)
	}
}

func regexpMust(expr string) *regexp.Regexp {
	re, err := CompileKeyPattern(expr)
	if err != nil {
		panic(err)
	}
	return re
}
