package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/keyrate/keyrate/aggregate"
)

// TestKeyMapDisplaysThePolicy: with partials keyed by displayed keys, the
// policy's keys and accounts are looked up through the same display, and
// account rows carry the displayed account.
func TestKeyMapDisplaysThePolicy(t *testing.T) {
	show := func(s string) string { return "h:" + strings.ToUpper(s) }
	pol := &Policy{
		Plans: map[string]*Plan{
			"p": {Name: "p", Rules: []Rule{{Name: "acct", Algorithm: Fixed, Limit: 1, WindowMillis: 1000, Filter: -1, PerAccount: true}}},
			"q": {Name: "q", Rules: []Rule{{Name: "own", Algorithm: Fixed, Limit: 1, WindowMillis: 1000, Filter: -1}}},
		},
		KeyPlans:    map[string]string{"ka": "p", "kb": "q"},
		KeyAccounts: map[string]string{"ka": "acme"},
	}
	st := aggregate.NewState()
	for _, k := range []string{"h:KA", "h:KA", "h:KB", "h:KB", "kb"} {
		st.Add([]byte(k), &aggregate.Observation{TimeMillis: 5000, Status: 200})
	}
	got := &RowBuffer{}
	stats, err := Evaluate(context.Background(), only(st), pol, Options{KeyMap: show}, got)
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]string{}
	for _, k := range got.keys {
		plans[k.Key] = k.Plan
	}
	if plans["h:KA"] != "p" || plans["h:KB"] != "q" || plans["kb"] != "" || stats.UnplannedKeys != 1 {
		t.Errorf("plans %v, %d unplanned; want h:KA on p, h:KB on q, the undisplayed kb on none", plans, stats.UnplannedKeys)
	}
	var scopes []string
	for _, v := range got.violations {
		scopes = append(scopes, v.Scope+" "+v.Key+" "+v.LimitName)
	}
	if want := "account h:ACME acct,key h:KB own"; strings.Join(scopes, ",") != want {
		t.Errorf("violations %v, want %s", scopes, want)
	}
	// Two keys displayed alike with different plans cannot be told apart.
	_, err = Evaluate(context.Background(), only(st), pol, Options{KeyMap: func(string) string { return "same" }}, &RowBuffer{})
	if err == nil || !strings.Contains(err.Error(), "displayed alike") {
		t.Errorf("colliding display: %v", err)
	}
}
