package policy

import "testing"

// TestDigestIsStable pins the digest of the policy that
// '--limit 100/min --limit 10/s' stands for: it is in every Parquet
// footer and manifest, so a change to it (a field added to Policy, Rule
// or RequestFilter, a renamed one) must be deliberate.
func TestDigestIsStable(t *testing.T) {
	var limits []Limit
	for _, spec := range []string{"100/min", "10/s"} {
		l, err := ParseLimit(spec)
		if err != nil {
			t.Fatal(err)
		}
		limits = append(limits, l)
	}
	pol := FromLimits(limits)
	pol.ReportMillis = 60_000
	got, err := pol.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:47ae14f3f0a9053c91e521a77acc529ba07d5e140b2cebc8653acb4c691cb48d"; got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}
