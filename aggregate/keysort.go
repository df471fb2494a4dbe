package aggregate

import (
	"encoding/binary"
	"slices"
)

// keyChunk is one key's sort key at some depth: the next (up to) 8 bytes
// of the key from that depth, big-endian and zero-padded, and how many of
// them are the key's own (a key that ends there sorts before a longer one
// whose bytes on are zeros).
type keyChunk struct {
	chunk uint64
	id    uint32
	n     uint32
}

// sortIDs orders ids by their keys' bytes, exactly as bytes.Compare
// would; ids must name distinct keys. Comparing keys byte by byte costs a
// cache miss into the arena per comparison once there are many keys, and
// keys often share a prefix ("k" and hex digits, "sk_live_…"), so each
// comparison also walks that prefix. Instead the keys' common prefix is
// skipped and the keys are radix-sorted as integers by their next 8
// bytes (reading the arena once, in id order); only keys that tie on all
// 8 are sorted again, from 8 bytes further on.
func (t *keyTable) sortIDs(ids []uint32) {
	buf := make([]keyChunk, 2*len(ids))
	t.sortIDsFrom(ids, buf[:len(ids)], buf[len(ids):], 0)
}

// radixMin is the least number of keys radix-sorted: fewer (the ties
// sorted again, mostly pairs) are sorted by comparison.
const radixMin = 64

// sortIDsFrom is sortIDs for ids whose keys agree on their first depth
// bytes; buf and tmp are scratch space as long as ids.
func (t *keyTable) sortIDsFrom(ids []uint32, buf, tmp []keyChunk, depth int) {
	if len(ids) < 2 {
		return
	}
	depth += t.commonPrefix(ids, depth)
	for i, id := range ids {
		buf[i] = chunkAt(t.bytes(id), depth, id)
	}
	sorted := buf
	if len(buf) >= radixMin {
		sorted = radixSortChunks(buf, tmp)
	} else {
		slices.SortFunc(buf, func(a, b keyChunk) int {
			switch {
			case a.chunk < b.chunk:
				return -1
			case a.chunk > b.chunk:
				return 1
			}
			return int(a.n) - int(b.n)
		})
	}
	for i := range sorted {
		ids[i] = sorted[i].id
	}
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j].chunk == sorted[i].chunk && sorted[j].n == sorted[i].n {
			j++
		}
		// Keys that tie with fewer than 8 bytes left are equal, which
		// distinct keys never are; those with 8 go on from depth+8.
		if j-i > 1 && sorted[i].n == 8 {
			t.sortIDsFrom(ids[i:j], buf[i:j], tmp[i:j], depth+8)
		}
		i = j
	}
}

// radixSortChunks sorts buf by (chunk, n), least significant byte first,
// through tmp (as long as buf), and returns the one of the two that holds
// the result. A byte that all of buf shares (a key's length, which is
// mostly 8; bytes of a narrow alphabet's high bits) costs no pass.
func radixSortChunks(buf, tmp []keyChunk) []keyChunk {
	var counts [9][256]uint32 // digit 0 is n, digit d > 0 the chunk's byte d-1
	for i := range buf {
		c := &buf[i]
		counts[0][c.n]++
		for d := range 8 {
			counts[d+1][byte(c.chunk>>(8*d))]++
		}
	}
	src, dst := buf, tmp
	for d := range counts {
		cnt := &counts[d]
		digit := func(c *keyChunk) byte {
			if d == 0 {
				return byte(c.n)
			}
			return byte(c.chunk >> (8 * (d - 1)))
		}
		if int(cnt[digit(&src[0])]) == len(src) {
			continue
		}
		var sum uint32
		for i, n := range cnt {
			cnt[i] = sum
			sum += n
		}
		for i := range src {
			c := &src[i]
			k := digit(c)
			dst[cnt[k]] = *c
			cnt[k]++
		}
		src, dst = dst, src
	}
	return src
}

// commonPrefix returns how many bytes from depth on all of ids' keys
// share.
func (t *keyTable) commonPrefix(ids []uint32, depth int) int {
	first := t.bytes(ids[0])[depth:]
	p := len(first)
	for _, id := range ids[1:] {
		k := t.bytes(id)[depth:]
		p = min(p, len(k))
		for i := range p {
			if k[i] != first[i] {
				p = i
				break
			}
		}
		if p == 0 {
			break
		}
	}
	return p
}

// chunkAt returns key id's sort key at depth (see keyChunk).
func chunkAt(key []byte, depth int, id uint32) keyChunk {
	rest := key[depth:]
	if len(rest) >= 8 {
		return keyChunk{chunk: binary.BigEndian.Uint64(rest), id: id, n: 8}
	}
	var b [8]byte
	copy(b[:], rest)
	return keyChunk{chunk: binary.BigEndian.Uint64(b[:]), id: id, n: uint32(len(rest))}
}
