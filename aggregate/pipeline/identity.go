package pipeline

// Input identity: what a dataset's ledger records of each input to know
// it again under another name or compression, and to tell a file that
// has grown since it was read from another file.

import (
	"context"
	"encoding/hex"
	"io"
	"slices"

	"github.com/keyrate/keyrate/parse/input"
	"github.com/zeebo/xxh3"
)

// HeadBytes is how much of an input its head hash covers: enough to tell
// inputs apart without reading them whole (a dataset compares heads
// first, and hashes a whole input again only when its head matches).
const HeadBytes = 64 << 10

// Identity is an input's content identity: over its decompressed bytes
// as the pipeline cuts them into lines (after a byte order mark and the
// NUL run a stream may start with are dropped), or a Parquet file's
// bytes.
type Identity struct {
	// Length is the number of bytes.
	Length int64
	// Hash is the hex xxh3-128 of all of them, Head that of the first
	// min(Length, HeadBytes).
	Hash, Head string
}

// contentHash hashes a stream as it is read, and notes the hash of its
// prefixes of given lengths along the way: HeadBytes, and those a
// caller asks for (Identify).
type contentHash struct {
	h     xxh3.Hasher
	n     int64
	marks []int64        // the prefix lengths to note, ascending
	next  int            // the first mark not reached
	sums  []xxh3.Uint128 // the hash of each mark reached
}

func newContentHash(at ...int64) *contentHash {
	marks := []int64{HeadBytes}
	for _, n := range at {
		if n >= 0 {
			marks = append(marks, n)
		}
	}
	slices.Sort(marks)
	return &contentHash{marks: slices.Compact(marks)}
}

// note takes the hash of every mark the stream has reached.
func (c *contentHash) note() {
	for c.next < len(c.marks) && c.marks[c.next] <= c.n {
		c.sums = append(c.sums, c.h.Sum128())
		c.next++
	}
}

// Write adds p to the hash. It never fails.
func (c *contentHash) Write(p []byte) (int, error) {
	total := len(p)
	for {
		c.note()
		if c.next == len(c.marks) || c.n+int64(len(p)) < c.marks[c.next] {
			break
		}
		k := c.marks[c.next] - c.n
		c.h.Write(p[:k])
		c.n += k
		p = p[k:]
	}
	c.h.Write(p)
	c.n += int64(len(p))
	return total, nil
}

// at returns the hex hash of the first n bytes, "" if the stream was
// shorter or n was not asked for.
func (c *contentHash) at(n int64) string {
	c.note() // a mark at 0 is reached without a Write
	i, ok := slices.BinarySearch(c.marks, n)
	if !ok || i >= len(c.sums) {
		return ""
	}
	return HexHash(c.sums[i])
}

// identity returns the identity of what was written so far.
func (c *contentHash) identity() Identity {
	id := Identity{Length: c.n, Hash: HexHash(c.h.Sum128())}
	if id.Head = c.at(HeadBytes); id.Head == "" {
		id.Head = id.Hash // shorter than HeadBytes
	}
	return id
}

// HexHash is xxh3's canonical (big-endian) form in hex, as xxh128sum
// prints it: the form of Identity's hashes.
func HexHash(u xxh3.Uint128) string {
	b := u.Bytes()
	return hex.EncodeToString(b[:])
}

// setIdentity records id in st.
func setIdentity(st *FileStats, id Identity) {
	st.Length, st.Hash, st.Head = id.Length, id.Hash, id.Head
}

// Identify reads the input at path ("-": stdin, which it consumes) as a
// run opens and decompresses it, hashing it whole: its Identity, and the
// hex hash of its first n bytes for each n in at ("" for an n past its
// end). It is the pre-pass a dataset runs on an input whose head matches
// one it has read, to tell the same content, a file that has grown and
// another file apart; the pipeline computes the Identity of everything
// it reads on the way (FileStats), at no extra pass. On a read error (a
// damaged stream) it returns the Identity of the bytes read before it.
func Identify(ctx context.Context, path string, stdin io.Reader, at []int64) (Identity, []string, error) {
	o := input.Opener{Stdin: stdin}
	defer o.Close()
	in, err := o.Open(path)
	if err != nil {
		return Identity{}, nil, err
	}
	defer in.Close()
	h := newContentHash(at...)
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return Identity{}, nil, err
		}
		n, err := in.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			// What could be read: a damaged input read before
			// (--skip-corrupt) is known by it.
			return h.identity(), nil, err
		}
	}
	sums := make([]string, len(at))
	for i, n := range at {
		sums[i] = h.at(n)
	}
	return h.identity(), sums, nil
}

// ReadHead returns the first min(length, HeadBytes) bytes of the input
// at path as Identify hashes them, and whether the input ends there: what
// a dataset compares with the inputs it has read before reading one.
func ReadHead(ctx context.Context, path string, stdin io.Reader) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	o := input.Opener{Stdin: stdin}
	defer o.Close()
	in, err := o.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer in.Close()
	b := make([]byte, HeadBytes+1)
	n, err := io.ReadFull(in, b)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return b[:n], true, nil
	case err != nil:
		return nil, false, err
	}
	return b[:HeadBytes], false, nil
}
