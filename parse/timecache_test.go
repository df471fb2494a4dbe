package parse

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCLFTimeCacheMatchesParse: the cached parser agrees with
// ParseCLFTime on every input, valid or not, in any order (so stale
// cache entries never leak into a different minute or offset).
func TestCLFTimeCacheMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	months := []string{"Jan", "Feb", "Mar", "Nov", "Dec", "nov", "Foo"}
	offsets := []string{"+0000", "-0700", "+0530", "+2400", "0000", "+00:0"}
	var c CLFTimeCache
	for range 200000 {
		b := []byte(fmt.Sprintf("%02d/%s/%04d:%02d:%02d:%02d %s",
			1+rng.IntN(31), months[rng.IntN(len(months))], 1999+rng.IntN(3),
			rng.IntN(25), rng.IntN(3), rng.IntN(63), offsets[rng.IntN(len(offsets))]))
		if rng.IntN(20) == 0 { // corrupt a byte, seconds included
			b[rng.IntN(len(b))] = "x9:/ 0"[rng.IntN(6)]
		}
		for range 1 + rng.IntN(3) { // repeats hit the cache
			want, wok := ParseCLFTime(b)
			got, gok := c.Parse(b)
			if got != want || gok != wok {
				t.Fatalf("%s: cache %d %v, ParseCLFTime %d %v", b, got, gok, want, wok)
			}
			b[19] = byte('0' + rng.IntN(10)) // same minute, other second
		}
	}
}

func TestMonthNumber(t *testing.T) {
	for i, m := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		for _, v := range []string{m, string([]byte{m[0] | 0x20, m[1], m[2]}), string([]byte{m[0], m[1] &^ 0x20, m[2] &^ 0x20})} {
			if n, ok := monthNumber([]byte(v)); !ok || n != int64(i+1) {
				t.Errorf("monthNumber(%q) = %d %v", v, n, ok)
			}
		}
	}
	for _, bad := range []string{"Jux", "", "Janu", "J n"} {
		if _, ok := monthNumber([]byte(bad)); ok {
			t.Errorf("monthNumber(%q) accepted", bad)
		}
	}
}
