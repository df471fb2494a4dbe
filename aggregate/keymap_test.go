package aggregate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// upperMap shows a key in upper case: two raw keys ("k1", "K1") become
// one, and the order of shown keys differs from that of raw ones.
func upperMap(calls *int) func([]byte) []byte {
	return func(raw []byte) []byte {
		*calls++
		return []byte("#" + strings.ToUpper(string(raw)))
	}
}

// TestKeyMapMatchesReferenceOfMappedKeys: a State with a key map reads
// back exactly what a State without one reads back when fed the mapped
// keys, whatever the mix of Add, AddCounters (already shown keys),
// Merge and Reset, and the map runs once per distinct raw key.
func TestKeyMapMatchesReferenceOfMappedKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var calls int
	m := upperMap(&calls)
	a, b := NewState(WithKeyMap(m)), NewState(WithKeyMap(m))
	ref := reference{}
	distinct := map[*State]map[string]bool{a: {}, b: {}}
	for i := range 6000 {
		st := a
		if i%4 == 0 {
			st = b
		}
		key, o := randomStateObs(rng, 40)
		if rng.IntN(2) == 0 {
			key = strings.ToUpper(key) // another raw key, the same shown key
		}
		shown := "#" + strings.ToUpper(key)
		if rng.IntN(10) == 0 {
			c := Counters{Requests: 2, Status2xx: 1, BytesSent: 7}
			st.AddCounters(shown, o.TimeMillis, &c)
			prev := ref[refCell{shown, o.TimeMillis}]
			prev.Add(&c)
			ref[refCell{shown, o.TimeMillis}] = prev
			continue
		}
		st.Add([]byte(key), &o)
		ref.add(shown, &o)
		distinct[st][key] = true
	}
	if want := len(distinct[a]) + len(distinct[b]); calls != want {
		t.Errorf("the map ran %d times, want once per distinct raw key and State: %d", calls, want)
	}
	a.Merge(b)
	equalSeries(t, collect(t, a), ref.series())
	for _, s := range collect(t, a) {
		if !strings.HasPrefix(s.Key, "#") {
			t.Fatalf("key %q read back unmapped", s.Key)
		}
	}
	// After a Reset (a spill), the map runs again for the keys seen anew.
	a.Reset()
	calls = 0
	o := Observation{TimeMillis: 1000, Status: 200}
	a.Add([]byte("k1"), &o)
	a.Add([]byte("k1"), &o)
	if calls != 1 {
		t.Errorf("after Reset the map ran %d times for one key, want 1", calls)
	}
	if got := collect(t, a); len(got) != 1 || got[0].Key != "#K1" || got[0].Points[0].Requests != 2 {
		t.Errorf("after Reset: %+v", got)
	}
}

// TestKeyMapSortsByShownKeys: sorted cursors, key ranges and splits work
// on the shown keys, which sort differently from the raw ones.
func TestKeyMapSortsByShownKeys(t *testing.T) {
	rev := WithKeyMap(func(raw []byte) []byte {
		out := make([]byte, len(raw))
		for i, c := range raw {
			out[len(raw)-1-i] = c
		}
		return out
	})
	st := NewState(rev)
	for i := range 200 {
		st.Add(fmt.Appendf(nil, "k%03d", i), &Observation{TimeMillis: int64(i), Status: 200})
	}
	got := collect(t, st)
	for i := 1; i < len(got); i++ {
		if got[i-1].Key >= got[i].Key {
			t.Fatalf("keys out of order: %q then %q", got[i-1].Key, got[i].Key)
		}
	}
	v := st.Sorted()
	splits := v.Splits(2)
	below, above := drain(t, v.Cursor(nil, splits[0])), drain(t, v.Cursor(splits[0], nil))
	if len(below)+len(above) != 200 || below[len(below)-1].Key >= string(splits[0]) || above[0].Key != string(splits[0]) {
		t.Errorf("a split at %q: ranges of %d and %d keys", splits[0], len(below), len(above))
	}
	if got[0].Key != "000k" {
		t.Errorf("first key %q, want the shown %q", got[0].Key, "000k")
	}
}

func TestKeyMapAddExistingKeyDoesNotAllocate(t *testing.T) {
	st := NewState(WithKeyMap(hmacMap()))
	key := []byte("k1")
	o := Observation{TimeMillis: 1000, Status: 200}
	st.Add(key, &o)
	if n := testing.AllocsPerRun(100, func() { st.Add(key, &o) }); n != 0 {
		t.Errorf("Add of a mapped key seen before allocates %.1f times", n)
	}
}

// hmacMap is the HMAC-SHA256 display of report.KeyDisplay's hmac mode, in
// hex: the expensive key map a dataset under --key-display hmac uses.
func hmacMap() func([]byte) []byte {
	pool := sync.Pool{New: func() any { return hmac.New(sha256.New, []byte("secret")) }}
	return func(raw []byte) []byte {
		h := pool.Get().(interface {
			Reset()
			Write([]byte) (int, error)
			Sum([]byte) []byte
		})
		defer pool.Put(h)
		h.Reset()
		h.Write(raw)
		var sum [sha256.Size]byte
		return hex.AppendEncode(nil, h.Sum(sum[:0]))
	}
}

// BenchmarkStateAddKeyMap adds 256k distinct keys (each once, then each
// once again) without a map and with the HMAC display, so the cost of
// the map per distinct key is the difference over 256k.
func BenchmarkStateAddKeyMap(b *testing.B) {
	const n = 256 << 10
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "k%016x", uint64(i)*0x9E3779B97F4A7C15)
	}
	for _, c := range []struct {
		name string
		opts []StateOption
	}{{"none", nil}, {"hmac", []StateOption{WithKeyMap(hmacMap())}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st := NewState(c.opts...)
				for round := range 2 {
					o := Observation{TimeMillis: int64(round) * 1000, Status: 200}
					for _, k := range keys {
						st.Add(k, &o)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
		})
	}
}
