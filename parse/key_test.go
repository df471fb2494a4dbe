package parse

import (
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestKeySources(t *testing.T) {
	rec := Record{
		Target: []byte("/v1/keys/k%2F1/usage?api_key=q1&x=2"),
		User:   []byte("alice"),
		// Formats keep these two headers as roles, not http_ fields.
		UserAgent: []byte("app/1.0"),
		// field: names that formats fill a role from read the role.
		RemoteAddr: []byte("203.0.113.9"),
		Referer:    []byte("https://r/"),
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
		{[]string{"header:User-Agent"}, "app/1.0"},
		{[]string{"header:referer"}, "https://r/"},
		{[]string{"header:Referrer"}, "https://r/"},
		{[]string{"path:/v1/keys/{key}/*"}, "k/1"},
		{[]string{"path:/v1/keys/{key}/usage"}, "k/1"},
		{[]string{"path:/v1/keys/{key}"}, ""},         // more segments than the template
		{[]string{"path:/v1/keys/{key}/usage/x"}, ""}, // fewer
		{[]string{"path:/v2/keys/{key}/*"}, ""},
		{[]string{"field:Tenant"}, "t1"},
		{[]string{"field:c-ip"}, "203.0.113.9"},
		{[]string{"field:request.client_ip"}, "203.0.113.9"},
		{[]string{"field:remote_addr"}, "203.0.113.9"},
		{[]string{"field:ClientHost"}, "203.0.113.9"},
		{[]string{"field:http_user_agent"}, "app/1.0"},
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

// TestPathTemplateAgainstReference compares path templates with a plain
// strings.Split implementation on random paths and templates.
func TestPathTemplateAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	segs := []string{"v1", "keys", "a", "b", ""}
	ref := func(tmpl, path string) (string, bool) {
		ts := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
		prefix := ts[len(ts)-1] == "*"
		if prefix {
			ts = ts[:len(ts)-1]
		}
		ps := strings.Split(strings.TrimPrefix(path, "/"), "/")
		// A trailing slash adds no segment.
		if len(ps) > 1 && ps[len(ps)-1] == "" {
			ps = ps[:len(ps)-1]
		}
		if len(ps) < len(ts) || (!prefix && len(ps) > len(ts)) {
			return "", false
		}
		key := ""
		for i, s := range ts {
			if s == "{key}" {
				key = ps[i]
			} else if ps[i] != s {
				return "", false
			}
		}
		return key, true
	}
	for range 20000 {
		var tb, pb strings.Builder
		nt := 1 + r.IntN(4)
		keyAt := r.IntN(nt)
		for i := range nt {
			tb.WriteByte('/')
			if i == keyAt {
				tb.WriteString("{key}")
			} else {
				tb.WriteString(segs[r.IntN(len(segs)-1)])
			}
		}
		if r.IntN(2) == 0 {
			tb.WriteString("/*")
		}
		for range r.IntN(6) {
			pb.WriteByte('/')
			pb.WriteString(segs[r.IntN(len(segs))])
		}
		if pb.Len() == 0 {
			pb.WriteByte('/')
		}
		tmpl, path := tb.String(), pb.String()
		k, err := NewKeyExtractor([]string{"path:" + tmpl})
		if err != nil {
			t.Fatal(err)
		}
		got := k.Extract(&Record{Target: []byte(path + "?q=1")})
		want, ok := ref(tmpl, path)
		if !ok || want == "" {
			if got != nil {
				t.Fatalf("%s on %s: key %q, want none", tmpl, path, got)
			}
			continue
		}
		if string(got) != want {
			t.Fatalf("%s on %s: key %q, want %q", tmpl, path, got, want)
		}
	}
}

// A key longer than MaxKeyBytes (decoded) is an invalid key, like one the
// pattern rejects; one at the limit is a key.
func TestKeyLengthLimit(t *testing.T) {
	k, err := NewKeyExtractor([]string{"query:api_key", "query:key"})
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Repeat("k", MaxKeyBytes)
	for _, c := range []struct {
		query    string
		want     string
		rejected bool
	}{
		{"api_key=" + at, at, false},
		{"api_key=" + at + "x", "", true},
		// The encoded form may be longer: the decoded length counts.
		{"api_key=" + strings.Repeat("%6b", MaxKeyBytes), at, false},
		{"api_key=" + strings.Repeat("%6b", MaxKeyBytes+1), "", true},
		// An over-long value is skipped like a rejected one: the next
		// source may still hold a key.
		{"api_key=" + at + "x&key=short", "short", false},
	} {
		rec := Record{Target: []byte("/x?" + c.query)}
		got := k.Extract(&rec)
		if string(got) != c.want || k.Rejected() != c.rejected {
			t.Errorf("query of %d bytes: key of %d bytes, rejected %v; want %d bytes, rejected %v",
				len(c.query), len(got), k.Rejected(), len(c.want), c.rejected)
		}
	}
}
