package aggregate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkKeyOrder adds a line for each of keys (duplicates are one key)
// and checks that sortIDs orders them as bytes.Compare does, and that a
// cursor names them so.
func checkKeyOrder(t *testing.T, keys [][]byte) {
	t.Helper()
	st := NewState()
	for _, k := range keys {
		st.Add(k, &Observation{TimeMillis: 1})
	}
	ids := make([]uint32, st.keys.len())
	for i := range ids {
		ids[i] = uint32(i)
	}
	st.keys.sortIDs(ids)
	want := slices.Clone(ids)
	slices.SortFunc(want, func(a, b uint32) int { return bytes.Compare(st.key(a), st.key(b)) })
	for i := range ids {
		if ids[i] != want[i] {
			t.Fatalf("%d keys: position %d holds %q, want %q", len(ids), i, st.key(ids[i]), st.key(want[i]))
		}
	}
	wantKeys := make([]string, len(want))
	for i, id := range want {
		wantKeys[i] = string(st.key(id))
	}
	series := drain(t, st.Sorted().Cursor(nil, nil))
	// The names read are the cursor's: refilling the State's arena
	// leaves them as they were.
	st.Reset()
	for range 4 {
		st.Add(bytes.Repeat([]byte{'x'}, 4096), &Observation{TimeMillis: 1})
	}
	if len(series) != len(wantKeys) {
		t.Fatalf("%d series for %d keys", len(series), len(wantKeys))
	}
	for i, s := range series {
		if s.Key != wantKeys[i] {
			t.Fatalf("series %d is key %q, want %q", i, s.Key, wantKeys[i])
		}
	}
}

// TestSortIDsMatchesBytesCompare ranks keys that make the 8-byte chunks
// tie or mislead: keys that share long prefixes (and only some of them,
// so the common prefix is shorter), keys that are prefixes of others,
// zero bytes where a shorter key is padded, the empty key, bytes >= 0x80
// (not UTF-8, compared unsigned) and keys longer than several chunks.
func TestSortIDsMatchesBytesCompare(t *testing.T) {
	checkKeyOrder(t, nil)
	checkKeyOrder(t, [][]byte{[]byte("k")})
	checkKeyOrder(t, [][]byte{
		{}, {0}, {0, 0}, {0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0},
		[]byte("ab"), []byte("ab\x00"), []byte("ab\x00\x00\x00\x00\x00\x00"), []byte("ab\x00\x00\x00\x00\x00\x00\x00"),
		[]byte("abcdefgh"), []byte("abcdefghi"), []byte("abcdefgh\x00"), []byte("abcdefgh\xff"),
		[]byte("sk_live_"), []byte("sk_live_a"), []byte("sk_live_aaaaaaaaaaaaaaaaaaaa"), []byte("sk_live_aaaaaaaaaaaaaaaaaaab"),
		[]byte("\xff\xfe"), []byte("\xff"), []byte("\x80abc"), []byte("\x7fabc"), []byte("é"), []byte("e"),
	})
	rng := rand.New(rand.NewPCG(8, 21))
	alphabet := []byte{0, 1, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff}
	prefixes := [][]byte{nil, []byte("k"), []byte("sk_live_"), []byte("sk_live_0123456789abcdef"), {0, 0, 0, 0, 0, 0, 0}}
	for round := range 300 {
		n := rng.IntN(300)
		if round%50 == 0 {
			n = 5000
		}
		// Some rounds share one prefix (the common prefix is skipped),
		// the others mix several.
		mix := rng.IntN(2) == 0
		fixed := prefixes[rng.IntN(len(prefixes))]
		keys := make([][]byte, n)
		for i := range keys {
			p := fixed
			if mix {
				p = prefixes[rng.IntN(len(prefixes))]
			}
			k := slices.Clone(p)
			for range rng.IntN(20) {
				k = append(k, alphabet[rng.IntN(len(alphabet))])
			}
			if i > 0 && rng.IntN(4) == 0 {
				// A key that extends or cuts another.
				o := keys[rng.IntN(i)]
				k = append(slices.Clone(o[:rng.IntN(len(o)+1)]), k[len(p):]...)
			}
			keys[i] = k
		}
		checkKeyOrder(t, keys)
	}
	// keyrate-gen's keys: "k" and 16 hex digits.
	var gen [][]byte
	for i := range 20_000 {
		gen = append(gen, fmt.Appendf(nil, "k%016x", uint64(i)*0x9E3779B97F4A7C15))
	}
	checkKeyOrder(t, gen)
}

// FuzzSortIDs checks sortIDs against bytes.Compare for keys cut from
// the fuzzer's bytes at its chosen lengths.
func FuzzSortIDs(f *testing.F) {
	f.Add([]byte("abcdefghabcdefgh\x00\xffab"), []byte{3, 8, 0, 9, 1, 16, 2})
	f.Fuzz(func(t *testing.T, data, lens []byte) {
		var keys [][]byte
		for i, l := range lens {
			start := i % (len(data) + 1)
			end := min(len(data), start+int(l%24))
			keys = append(keys, data[start:end])
		}
		checkKeyOrder(t, keys)
	})
}
