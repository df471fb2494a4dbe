package analysis

import "testing"

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"64MiB": 64 << 20, "1GiB": 1 << 30, "1gib": 1 << 30, "500MB": 500e6, "2G": 2 << 30,
		"1.5KiB": 1536, "4096": 4096, "0": 0, "10 MiB": 10 << 20, "7b": 7,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "1XB", "abc", "1e400"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
	var b ByteSize = 1 << 30
	if b.String() != "1GiB" {
		t.Errorf("String = %s", b.String())
	}
}
