package policy

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyrate/keyrate/parse"
)

// corpusRequests parses real combined-format logs from the shared corpus,
// taking query parameters that recur across requests as the "key".
func corpusRequests(t *testing.T) []req {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus") // repo root's sibling
	files := []string{"combined-elastic-examples.log", "combined-xff-lnav-shop.log"}
	keys, err := parse.NewKeyExtractor([]string{"query:flav", "query:page", "query:name"})
	if err != nil {
		t.Fatal(err)
	}
	var reqs []req
	for _, name := range files {
		f, err := os.Open(filepath.Join(corpus, name))
		if os.IsNotExist(err) {
			t.Skipf("corpus file %s absent (expected at ../shared/corpus next to the repository)", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		var rec parse.Record
		for sc.Scan() {
			if (parse.Combined{}).Parse(sc.Bytes(), &rec) != nil {
				continue
			}
			k := keys.Extract(&rec)
			if k == nil {
				continue
			}
			// 404s stand in for the real gateway's rejections.
			reqs = append(reqs, req{key: string(k), t: rec.TimeMillis, method: string(rec.Method), status: rec.Status, rejected: rec.Status == 404})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(reqs) < 500 {
		t.Fatalf("only %d keyed requests in the corpus; the test needs real traffic", len(reqs))
	}
	return reqs
}

// TestEvaluateCorpusMatchesReference runs every algorithm over real
// traffic (second precision, so many simultaneous requests) and compares
// the engine with the reference gateways.
func TestEvaluateCorpusMatchesReference(t *testing.T) {
	reqs := corpusRequests(t)
	rules := []Rule{
		{Name: "fixed-min", Algorithm: Fixed, Limit: 3, WindowMillis: 60_000, Filter: -1},
		{Name: "fixed-day", Algorithm: Fixed, Limit: 40, Calendar: Day, Filter: -1, PerAccount: true},
		{Name: "sliding", Algorithm: Sliding, Limit: 10, WindowMillis: 3_600_000, Filter: -1},
		{Name: "token", Algorithm: TokenBucket, RateMicro: 50_000, Burst: 3, Filter: -1},
		{Name: "nginx", Algorithm: LeakyBucket, NginxRate: 33, Burst: 1, Filter: -1},
		{Name: "posts", Algorithm: Fixed, Limit: 0, WindowMillis: 60_000, Filter: 0, PerAccount: true},
	}
	pol := &Policy{
		Plans:        map[string]*Plan{"p": {Name: "p", Rules: rules}},
		DefaultPlan:  "p",
		KeyAccounts:  map[string]string{"rss20": "feeds", "atom": "feeds"},
		Filters:      []RequestFilter{testFilter},
		ReportMillis: 60_000,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	shuffled := append([]req(nil), reqs...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	cs := classes{}
	cs.feed(shuffled)
	for _, split := range []bool{false, true} {
		exp := refEvaluate(pol, reqs, split)
		scopes := map[string]int{}
		for _, v := range exp.violations {
			scopes[v.Scope]++
		}
		if scopes[ScopeAccount] == 0 || scopes[ScopeKey] == 0 {
			t.Fatalf("violations by scope %v: the test needs both", scopes)
		}
		got := &RowBuffer{}
		if _, err := Evaluate(context.Background(), cs.inputs(), pol, Options{Split: split}, got); err != nil {
			t.Fatal(err)
		}
		compareRows(t, 0, got, exp)
	}
}
