package parse

import (
	"slices"
	"testing"
)

func TestKeyHints(t *testing.T) {
	rec := Record{Target: []byte("/v1/x?page=2&token=abc&q=hello&sig=&id=7f3c9a2b1e4d5f60a1b2"),
		Fields: []Field{
			{Name: "http_x_api_key", Value: []byte("k1")},
			{Name: "http_user_agent", Value: []byte("curl/8.5.0 (x86_64)")},
			{Name: "cookie_session", Value: []byte("0a1b2c3d4e5f6a7b8c9d")},
			{Name: "remote_addr", Value: []byte("203.0.113.9")},
			{Name: "auth", Value: []byte("-")},
			{Name: "client_id", Value: []byte("acme")},
		}}
	var got []string
	KeyHints(&rec, func(spec string) { got = append(got, spec) })
	want := []string{"query:token", "query:id", "header:x-api-key", "cookie:session", "field:client_id"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
