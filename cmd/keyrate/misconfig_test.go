package main

import (
	"strings"
	"testing"
)

// A --key that finds nothing warns, naming the flag and the query
// parameters that hold keys, with counts and without their values.
func TestWrongKeyWarns(t *testing.T) {
	code, _, stderr := runKeyrate(t, "analyze", "--out", t.TempDir(), "--key", "query:token", "--limit", "100/min", sampleDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"947 of 947 parsed lines have no key", "--key (now query:token)", "query:api_key (", "query:apikey (", "query:key ("} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	warning := stderr[strings.Index(stderr, "have no key"):]
	warning = warning[:strings.IndexByte(warning, '\n')]
	if strings.Contains(warning, "k_alpha") {
		t.Errorf("the warning shows a key's value: %s", warning)
	}
}

// A --key-pattern that rejects every key warns naming it.
func TestKeyPatternRejectingAllWarns(t *testing.T) {
	t.Setenv("KEYRATE_KEY_SECRET", "0123456789abcdef0123")
	code, _, stderr := runKeyrate(t, "analyze", "--out", t.TempDir(), "--key-pattern", "[0-9]+", "--limit", "100/min", "--key-display", "hmac", sampleDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, `or an invalid one (925): check --key (now query:api_key,query:apikey,query:key), --key-pattern "[0-9]+"`) {
		t.Errorf("no warning naming --key-pattern:\n%s", stderr)
	}
	if strings.Contains(stderr, "k_alpha") {
		t.Errorf("a key's value under --key-display hmac:\n%s", stderr)
	}
}

// The README's run warns of nothing of the sort; a run without limits
// says that it audits nothing.
func TestKeyWarningOnlyWhenMostLack(t *testing.T) {
	_, _, stderr := runKeyrate(t, "analyze", "--out", t.TempDir(), "--limit", "100/min", sampleDir)
	if strings.Contains(stderr, "have no key") || strings.Contains(stderr, "no limit is audited") {
		t.Errorf("unexpected warning:\n%s", stderr)
	}
	_, _, stderr = runKeyrate(t, "analyze", "--out", t.TempDir(), sampleDir)
	if !strings.Contains(stderr, "no --limit or --policy given") {
		t.Errorf("no notice of a run without limits:\n%s", stderr)
	}
}
