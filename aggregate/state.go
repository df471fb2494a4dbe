package aggregate

import (
	"bytes"
	"hash/maphash"
	"io"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"sync"
	"unsafe"
)

// State is an in-memory partial aggregate. It is laid out for a small,
// predictable footprint rather than with Go maps of structs:
//
//   - keys are interned once into one byte arena (no string header or
//     allocation per key) and found through an open-addressing table of
//     key ids (keyTable);
//   - cells (key id, timestamp, counters) live in fixed-size chunks, found
//     through a second open-addressing table of cell indexes; chunks never
//     move, so growing costs no copying and no transient doubling.
//
// Adding a request to an existing cell costs two probes and allocates
// nothing. Memory grows with distinct keys and distinct (key, timestamp)
// cells, never with the number of lines, and ApproxBytes reports it so the
// pipeline can spill a State before it outgrows its share of --memory.
// A State is not safe for concurrent use: each worker fills its own.
type State struct {
	seed maphash.Seed

	// keys are the keys as the State shows them (sorts, reads back,
	// spills): under a key map the mapped keys. A key id indexes keys.
	keys keyTable
	// keyMap, when set, maps each raw key once, when first seen; raw
	// then finds a raw key's shown id (rawShown) without mapping again.
	keyMap   func(raw []byte) []byte
	raw      keyTable
	rawShown []uint32
	// keyLast is each key's most recently used cell and its time: a
	// key's lines cluster in time, so most lines find their cell here
	// without a probe of the (large, cache-missing) cell table. The time
	// is kept beside the index because the cell itself is usually far
	// out of cache: a line that starts a new cell then touches only this
	// small array and the end of the newest chunk.
	keyLast []lastCell

	chunks [][]cellRec // cell i is chunks[i>>chunkShift][i&chunkMask]
	mem    *chunkMem   // where chunks come from
	nCells int
	// index finds any cell once indexed is set. While each key's times
	// only grow (a time-ordered log), a new time cannot match an existing
	// cell, so cells are appended unindexed; a time far back (or
	// AddCounters, Merge) builds the index once, and every cell is
	// indexed from then on.
	index   cellIndex
	indexed bool
	// stream numbers the stream (see NewStream) the lines now added come
	// from; keyLast notes the stream of each key's last line. The cells
	// from streamStart on are the current stream's; recent indexes them
	// once a time goes back a little within the stream (recentOn).
	stream      uint32
	streamStart uint32
	recent      cellIndex
	recentOn    bool
	// wide holds the counters of the rare cells that outgrow cellRec.
	wide map[uint32]*Counters
	// sorted is the last sort of the cells (Sorted), kept while no cell
	// is added: a Result is opened many times (a dataset's run reads it
	// once per date it writes), and sorting a State whose servers'
	// times interleave dominated those reads. Adding to an existing cell
	// does not move it; cursors read the counters as they are.
	sortMu   sync.Mutex
	sorted   *SortedState
	sortedAt int // nCells when sorted was made
}

// cellRec is one cell in 32 bytes, half a cache line, so a cell never
// straddles two lines: the request and status counts as uint16 and the
// byte sum as uint32, since a cell is one key's second (or millisecond),
// rarely near 65,535 requests or 4 GiB. A cell whose counts do not fit,
// or break the invariant that every count is at most Requests (only
// AddCounters can do that: partials from elsewhere, or a difference), moves its counters to State.wide and marks
// n[0] wideMark; the sums stay exact either way.
type cellRec struct {
	ts    int64
	key   uint32
	bytes uint32
	n     [7]uint16 // Requests, Status2xx, 3xx, 4xx, 5xx, 429, Rejected
	_     uint16
}

// lastCell is a key's most recently used cell: its index + 1 (0: none
// yet), its timestamp and the stream of the key's last line.
type lastCell struct {
	ts     int64
	cell   uint32
	stream uint32
}

const (
	wideMark = math.MaxUint16 // n[0] of a cell whose counters are in wide
	smallMax = wideMark - 1   // Requests a small cell can reach
)

const (
	chunkShift = 12
	chunkCells = 1 << chunkShift
	chunkMask  = chunkCells - 1
	// heapChunks is how many chunks come from the Go heap before a State
	// switches to chunkMem's huge-page mappings: small States (tests,
	// tiny inputs) then never map memory that only a GC would release.
	heapChunks = 8
)

func (s *State) cell(i uint32) *cellRec { return &s.chunks[i>>chunkShift][i&chunkMask] }

// StateOption configures a State.
type StateOption func(*State)

// WithKeyMap makes a State map every raw key added with Add through m,
// once per distinct key, when the State first sees it: the State keeps
// the raw bytes to find the key again and the mapped bytes for
// everything else. Sorting, cursors, spills and merges see only mapped
// keys, so a key display (an HMAC, a prefix) applied here means no raw
// key reaches the partial aggregate's readers. Raw keys that map to the
// same bytes are one key. raw is valid during the call only (m must not
// keep it); the State copies m's result. m must be safe for concurrent
// use when States in several goroutines share it. A nil m: keys as they are,
// at no cost.
//
// Keys that enter otherwise (AddCounters, Merge: partials read back)
// are shown keys already and are not mapped.
func WithKeyMap(m func(raw []byte) []byte) StateOption {
	return func(s *State) { s.keyMap = m }
}

// NewState returns an empty State.
func NewState(opts ...StateOption) *State {
	s := &State{seed: maphash.MakeSeed(), mem: &chunkMem{}}
	for _, o := range opts {
		o(s)
	}
	runtime.AddCleanup(s, func(m *chunkMem) { m.release() }, s.mem)
	return s
}

// NewStream says that the lines added from now on come from another
// stream (a block of lines, another file) than those before. Streams
// overlap in time (two servers' logs of the same hours, read by one
// worker block after block), so each key's first line of a new stream
// may go back in time; within a stream, logs go back only a little
// (Apache stamps a request with its start but logs it when it ends; ALB
// and CloudFront files are roughly ordered). Finding an existing cell
// for such a line would need an index over every cell, a cache miss or
// two per line from then on. Instead:
//
//   - a key's first line of a stream starts a new cell, even if the
//     State holds its (key, time) already;
//   - a line up to nearBack before its key's latest time in the stream
//     looks its cell up among the stream's own cells only (a small,
//     cache-resident index, built at the first such line), and starts
//     one if the stream has none.
//
// A State so holds a (key, time) at most once per stream that has it,
// and the read-back sums the twins, so results are unchanged. A line
// further back (a shuffled log, or one sorted by client) builds the
// index over every cell, so such a log cannot multiply cells.
func (s *State) NewStream() {
	s.stream++
	s.streamStart = uint32(s.nCells)
	s.recentOn = false
}

// nearBack is how far (in ms) a line may go back in time within its
// stream and still be looked up among the stream's cells only: ample for
// the disorder of logs stamped with a request's start.
const nearBack = 5 * 60 * 1000

// Add records one request for key. key is only read, never retained.
func (s *State) Add(key []byte, o *Observation) {
	id := s.keyID(key)
	ts := o.TimeMillis
	var i uint32
	switch last := &s.keyLast[id]; {
	case last.cell != 0 && last.ts == ts:
		i = last.cell - 1
		last.stream = s.stream
	case s.indexed:
		i = s.at(id, ts)
	case last.cell == 0 || ts > last.ts || last.stream != s.stream:
		// A key's latest time in the stream: keyLast keeps it, so that
		// each time is appended at most once per stream.
		i = s.newCell(id, ts)
		*last = lastCell{ts: ts, cell: i + 1, stream: s.stream}
		if s.recentOn {
			s.recent.insert(s, cellHash(id, ts), i)
		}
	case last.ts-ts <= nearBack:
		i = s.inStream(id, ts)
	default:
		i = s.at(id, ts)
	}
	c := s.cell(i)
	if c.n[0] >= smallMax || uint64(o.Bytes) > math.MaxUint32-uint64(c.bytes) {
		// (A negative byte count, impossible from a log, is huge as a
		// uint64 and goes wide too.)
		s.wideCounters(i).observe(o)
		return
	}
	// Each count grows with Requests, so all stay <= Requests < smallMax.
	c.n[0]++
	switch o.Status / 100 {
	case 2:
		c.n[1]++
	case 3:
		c.n[2]++
	case 4:
		c.n[3]++
	case 5:
		c.n[4]++
	}
	if o.Status == 429 {
		c.n[5]++
	}
	if o.Rejected {
		c.n[6]++
	}
	c.bytes += uint32(o.Bytes)
}

// wideCounters moves cell i's counters to s.wide (once) and returns them.
func (s *State) wideCounters(i uint32) *Counters {
	c := s.cell(i)
	if c.n[0] != wideMark {
		w := s.counters(i)
		if s.wide == nil {
			s.wide = map[uint32]*Counters{}
		}
		s.wide[i] = &w
		c.n[0] = wideMark
	}
	return s.wide[i]
}

// counters returns cell i's counters.
func (s *State) counters(i uint32) Counters {
	c := s.cell(i)
	if c.n[0] == wideMark {
		return *s.wide[i]
	}
	return c.counters()
}

// counters returns the counts a small cell holds (not a wide one's).
func (c *cellRec) counters() Counters {
	var sums Counters
	c.fill(&sums)
	return sums
}

// fill sets dst to the counts a small cell holds (not a wide one's).
func (c *cellRec) fill(dst *Counters) {
	dst.Requests, dst.Status2xx, dst.Status3xx = int64(c.n[0]), int64(c.n[1]), int64(c.n[2])
	dst.Status4xx, dst.Status5xx, dst.Status429 = int64(c.n[3]), int64(c.n[4]), int64(c.n[5])
	dst.Rejected, dst.BytesSent = int64(c.n[6]), int64(c.bytes)
}

// addTo adds a into cell i, keeping the cell small when the sums fit.
func (s *State) addTo(i uint32, a *Counters) {
	c := s.cell(i)
	if c.n[0] != wideMark {
		req := int64(c.n[0]) + a.Requests
		sums := [6]int64{
			int64(c.n[1]) + a.Status2xx, int64(c.n[2]) + a.Status3xx, int64(c.n[3]) + a.Status4xx,
			int64(c.n[4]) + a.Status5xx, int64(c.n[5]) + a.Status429, int64(c.n[6]) + a.Rejected,
		}
		bytes := int64(c.bytes) + a.BytesSent
		fits := req >= 0 && req < smallMax && bytes >= 0 && bytes <= math.MaxUint32
		for _, v := range sums {
			fits = fits && v >= 0 && v <= req
		}
		if fits {
			c.n[0] = uint16(req)
			for j, v := range sums {
				c.n[j+1] = uint16(v)
			}
			c.bytes = uint32(bytes)
			return
		}
	}
	s.wideCounters(i).Add(a)
}

// AddCounters merges pre-summed counters for (key, ts) into s; it is how
// partials read back from elsewhere join a State. key is a shown key
// (see WithKeyMap): it is not mapped.
func (s *State) AddCounters(key string, ts int64, c *Counters) {
	kb := unsafe.Slice(unsafe.StringData(key), len(key)) // read only
	s.addTo(s.at(s.shownID(kb), ts), c)
}

// Merge adds every cell of o into s by o's shown keys, which s does not
// map again. o is left unchanged.
func (s *State) Merge(o *State) {
	ids := make([]uint32, o.keys.len())
	for i := range ids {
		ids[i] = s.shownID(o.key(uint32(i)))
	}
	for i := range uint32(o.nCells) {
		c := o.cell(i)
		sums := o.counters(i)
		s.addTo(s.at(ids[c.key], c.ts), &sums)
	}
}

// Keys reports the number of distinct keys.
func (s *State) Keys() int { return s.keys.len() }

// Cells reports the number of cells: the distinct (key, timestamp) pairs,
// plus any twins overlapping streams left (see NewStream).
func (s *State) Cells() int { return s.nCells }

// ApproxBytes estimates the memory s's contents occupy: keys and their
// table, the cell chunks in use and the cell index. Allocations that Reset
// kept for reuse are not counted, so after a spill a State measures only
// what it has taken in since (the process holds at most one share's worth
// of such allocations per State).
func (s *State) ApproxBytes() int64 {
	var n int64
	n += s.keys.approxBytes() + int64(s.keys.len())*int64(unsafe.Sizeof(lastCell{}))
	n += s.raw.approxBytes() + int64(len(s.rawShown))*4
	chunks := (s.nCells + chunkCells - 1) / chunkCells
	n += int64(chunks) * chunkCells * int64(unsafe.Sizeof(cellRec{}))
	if s.indexed {
		n += int64(len(s.index.slots)) * 8
	}
	if s.recentOn {
		n += int64(len(s.recent.slots)) * 8
	}
	return n + int64(len(s.wide))*128
}

// Reset empties s but keeps its allocations, so a State that was spilled
// fills up again without asking the runtime for memory.
func (s *State) Reset() {
	s.keys.reset()
	s.keyLast = s.keyLast[:0]
	s.raw.reset()
	s.rawShown = s.rawShown[:0]
	s.nCells = 0
	s.sorted = nil
	s.indexed = false
	s.streamStart, s.recentOn = 0, false
	s.wide = nil
}

// key returns the shown bytes of key id; they stay valid until Reset.
func (s *State) key(id uint32) []byte { return s.keys.bytes(id) }

// keyID returns the id of the raw key, interning it on first sight.
func (s *State) keyID(raw []byte) uint32 {
	if s.keyMap != nil {
		return s.mappedID(raw)
	}
	return s.shownID(raw)
}

// shownID returns the id of a shown key, interning it on first sight.
func (s *State) shownID(key []byte) uint32 {
	h := maphash.Bytes(s.seed, key)
	if id, ok := s.keys.find(key, h); ok {
		return id
	}
	s.keyLast = append(s.keyLast, lastCell{})
	return s.keys.add(key, h)
}

// mappedID returns the shown id of a raw key under s.keyMap, mapping
// the key on its first sight only.
func (s *State) mappedID(raw []byte) uint32 {
	h := maphash.Bytes(s.seed, raw)
	if r, ok := s.raw.find(raw, h); ok {
		return s.rawShown[r]
	}
	id := s.shownID(s.keyMap(raw))
	s.raw.add(raw, h)
	s.rawShown = append(s.rawShown, id)
	return id
}

// keyTable interns keys: their bytes back to back in one arena, found
// by their hash through open addressing.
type keyTable struct {
	arena []byte   // every key's bytes, back to back
	end   []uint32 // key id i is arena[start(i):end[i]]
	// slots is open addressing over the ids: each slot holds a key id + 1
	// in its low half (0 = empty) and the high half of the key's hash in
	// its top half. With 100k+ keys the table, the ends and the arena
	// are each a cache miss away: a probe passes other keys' slots
	// without reading their bytes, and only a key whose hash matches
	// (almost always the one sought) costs the other misses. A key's
	// first slot is given by its hash's top bits (slotOf), which the slot
	// holds, so growing the table refiles the slots without the keys'
	// hashes, and in order: a pass over the old slots writes the new ones
	// nearly sequentially.
	slots []uint64
}

func (t *keyTable) len() int { return len(t.end) }

func (t *keyTable) start(id uint32) uint32 {
	if id == 0 {
		return 0
	}
	return t.end[id-1]
}

// bytes returns key id's bytes; they stay valid until reset.
func (t *keyTable) bytes(id uint32) []byte {
	return t.arena[t.start(id):t.end[id]:t.end[id]]
}

// find returns the id of key, whose hash is h.
func (t *keyTable) find(key []byte, h uint64) (uint32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	tag := h >> 32
	for i := slotOf(h, len(t.slots)); ; i = (i + 1) & mask {
		slot := t.slots[i]
		if slot == 0 {
			return 0, false
		}
		if slot>>32 != tag {
			continue
		}
		if id := uint32(slot) - 1; bytes.Equal(t.bytes(id), key) {
			return id, true
		}
	}
}

// add interns key, whose hash is h and which t does not hold, and
// returns its id (ids count up from 0).
func (t *keyTable) add(key []byte, h uint64) uint32 {
	id := uint32(len(t.end))
	t.arena = append(t.arena, key...)
	t.end = append(t.end, uint32(len(t.arena)))
	if len(t.end)*4 > len(t.slots)*3 { // keep load <= 3/4
		old := t.slots
		t.slots = make([]uint64, max(64, 2*len(old)))
		for _, slot := range old {
			if slot != 0 {
				fileSlot(t.slots, slot)
			}
		}
	}
	fileSlot(t.slots, h>>32<<32|uint64(id+1))
	return id
}

// reset empties t, keeping its allocations.
func (t *keyTable) reset() {
	t.arena = t.arena[:0]
	t.end = t.end[:0]
	clear(t.slots)
}

// approxBytes estimates the memory t's keys occupy.
func (t *keyTable) approxBytes() int64 {
	if len(t.end) == 0 {
		return 0
	}
	return int64(len(t.arena)) + int64(len(t.end))*4 + int64(len(t.slots))*8
}

// slotOf returns the first slot of a key whose hash is h (or a slot
// holding it) in a table of n slots, a power of two up to 1<<32: the
// hash's top bits, which a slot holds.
func slotOf(h uint64, n int) uint64 {
	return h >> (64 - bits.TrailingZeros64(uint64(n)))
}

// fileSlot files slot (see keyTable) in slots.
func fileSlot(slots []uint64, slot uint64) {
	mask := uint64(len(slots) - 1)
	i := slotOf(slot, len(slots))
	for slots[i] != 0 {
		i = (i + 1) & mask
	}
	slots[i] = slot
}

// at returns the index of cell (key id, ts), creating it if needed, by
// the index over every cell (built at the first call).
func (s *State) at(id uint32, ts int64) uint32 {
	if !s.indexed {
		s.index.build(s, 0)
		s.indexed = true
	}
	i := s.findOrAdd(&s.index, id, ts)
	s.keyLast[id] = lastCell{ts: ts, cell: i + 1, stream: s.stream}
	return i
}

// inStream returns the index of the current stream's cell (key id, ts),
// creating it if the stream has none. keyLast is left on the key's latest
// time.
func (s *State) inStream(id uint32, ts int64) uint32 {
	if !s.recentOn {
		s.recent.build(s, s.streamStart)
		s.recentOn = true
	}
	return s.findOrAdd(&s.recent, id, ts)
}

// findOrAdd returns the cell (id, ts) that x indexes, appending a new one
// (and filing it in x) if x has none.
func (s *State) findOrAdd(x *cellIndex, id uint32, ts int64) uint32 {
	h := cellHash(id, ts)
	i, ok := x.find(s, id, ts, h)
	if !ok {
		i = s.newCell(id, ts)
		x.insert(s, h, i)
	}
	return i
}

// newCell appends cell (id, ts) without indexing it.
func (s *State) newCell(id uint32, ts int64) uint32 {
	i := uint32(s.nCells)
	if int(i>>chunkShift) == len(s.chunks) {
		if len(s.chunks) < heapChunks {
			s.chunks = append(s.chunks, make([]cellRec, chunkCells))
		} else {
			s.chunks = append(s.chunks, s.mem.alloc())
		}
	}
	s.nCells++
	*s.cell(i) = cellRec{key: id, ts: ts}
	return i
}

// cellIndex is open addressing over a State's cells from a given one on:
// each slot holds a cell's index + 1 in its low half (0 = empty) and the
// high half of the cell's hash in its top half, so a probe skips other
// cells without reading them (each would be a cache miss; a new cell's
// probe meets several).
type cellIndex struct {
	slots []uint64
	from  uint32 // the first cell indexed
	n     int    // cells filed
}

// cellHash mixes a cell's key id and timestamp (a 64-bit multiplicative
// hash; the high bits are the well-mixed ones, so they are folded down).
func cellHash(id uint32, ts int64) uint64 {
	h := (uint64(ts) ^ uint64(id)<<40 ^ uint64(id)) * 0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>32
}

// find returns the indexed cell (id, ts), whose hash is h.
func (x *cellIndex) find(s *State, id uint32, ts int64, h uint64) (uint32, bool) {
	mask := uint64(len(x.slots) - 1)
	fp := h >> 32
	for i := h & mask; ; i = (i + 1) & mask {
		slot := x.slots[i]
		if slot == 0 {
			return 0, false
		}
		if slot>>32 != fp {
			continue
		}
		idx := uint32(slot) - 1
		if c := s.cell(idx); c.key == id && c.ts == ts {
			return idx, true
		}
	}
}

// insert files cell idx, whose hash is h and which is s's newest cell,
// rebuilding x larger when it would be more than 3/4 full.
func (x *cellIndex) insert(s *State, h uint64, idx uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.build(s, x.from) // files idx too
		return
	}
	x.file(h, idx)
}

func (x *cellIndex) file(h uint64, idx uint32) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = h>>32<<32 | uint64(idx+1)
	x.n++
}

// build (re)files s's cells from `from` on, leaving x at most 3/4 full
// after as many insertions again.
func (x *cellIndex) build(s *State, from uint32) {
	cells := s.nCells - int(from)
	n := 256
	for n*3 < (cells+1)*4*2 {
		n *= 2
	}
	if len(x.slots) >= n && cells*4 <= len(x.slots)*3 {
		clear(x.slots)
	} else {
		x.slots = make([]uint64, n)
	}
	x.from, x.n = from, 0
	for j := from; j < uint32(s.nCells); j++ {
		r := s.cell(j)
		x.file(cellHash(r.key, r.ts), j)
	}
}

// stateCursor reads a State's series in order, one key at a time.
type stateCursor struct {
	s          *State
	order      []uint32
	byKey      []uint32
	ends       []uint32
	group, pos int
	// cells are the cells of order[cellsFrom:] (see Next).
	cells     []cellRec
	cellsFrom int
	// names are the keys of groups namesFrom on, as strings (see name).
	names     []string
	namesFrom int
}

// nameBatch and nameBatchKeys bound the keys name copies at a time, in
// bytes and in keys; a key string a reader keeps holds its batch (the
// bytes are not shared with the State, which Reset reuses).
const (
	nameBatch     = 16 << 10
	nameBatchKeys = 256
)

// name returns group g's key as a string. Converting each key on its
// own cost an allocation per key and, with 100k+ keys read in rank
// order, a cache miss into the arena that the reader waited on; keys are
// instead copied a batch at a time into one allocation, in a loop whose
// loads overlap.
func (c *stateCursor) name(g int) string {
	if g < c.namesFrom || g >= c.namesFrom+len(c.names) {
		c.fillNames(g)
	}
	return c.names[g-c.namesFrom]
}

// fillNames copies the keys of groups g on, as many as nameBatch and
// nameBatchKeys allow (at least one), into names.
func (c *stateCursor) fillNames(g int) {
	end, n := g, 0
	for end < len(c.ends) && end-g < nameBatchKeys && (end == g || n+len(c.s.key(c.byKey[end])) <= nameBatch) {
		n += len(c.s.key(c.byKey[end]))
		end++
	}
	buf := make([]byte, 0, n)
	c.names, c.namesFrom = c.names[:0], g
	for ; g < end; g++ {
		k := c.s.key(c.byKey[g])
		name := ""
		if len(k) > 0 {
			buf = append(buf, k...)
			// buf's bytes are written once, here, and then only read.
			name = unsafe.String(&buf[len(buf)-len(k)], len(k))
		}
		c.names = append(c.names, name)
	}
}

// Open implements Partials: a Cursor over every series of s. It sorts
// the cells first; s must not change while the cursor is in use.
func (s *State) Open() (Cursor, error) { return s.Sorted().Cursor(nil, nil), nil }

// SortedState is a State's cells sorted for reading back. Sorted once,
// it hands out cursors over key ranges, which may be read concurrently:
// the way to evaluate one State's keys on several cores.
type SortedState struct {
	s                  *State
	order, byKey, ends []uint32
}

// Sorted sorts s's cells for reading back, or returns the last sort if
// no cell was added since. s must not change while the SortedState or
// its cursors are in use.
func (s *State) Sorted() *SortedState {
	s.sortMu.Lock()
	defer s.sortMu.Unlock()
	if s.sorted != nil && s.sortedAt == s.nCells {
		return s.sorted
	}
	v := &SortedState{s: s}
	v.order, v.byKey, v.ends = s.sortedCells()
	s.sorted, s.sortedAt = v, s.nCells
	return v
}

// group returns the first key group whose key is >= k.
func (v *SortedState) group(k []byte) int {
	return sort.Search(len(v.byKey), func(g int) bool { return bytes.Compare(v.s.key(v.byKey[g]), k) >= 0 })
}

// Cursor returns a Cursor over the series of the keys k with lo <= k < hi
// (a nil hi: no upper bound).
func (v *SortedState) Cursor(lo, hi []byte) Cursor {
	g0, g1 := v.group(lo), len(v.byKey)
	if hi != nil {
		g1 = max(g0, v.group(hi))
	}
	c := &stateCursor{s: v.s, order: v.order, byKey: v.byKey, ends: v.ends[:g1], group: g0}
	if g0 > 0 {
		c.pos = int(v.ends[g0-1])
	}
	return c
}

// Splits returns at most n-1 ascending keys of v that cut its cells into
// n ranges of about equal cell counts (fewer when it has few keys).
func (v *SortedState) Splits(n int) [][]byte {
	var out [][]byte
	cells := len(v.order)
	for g, end := range v.ends {
		if len(out) == n-1 {
			break
		}
		// Cut after group g once its end passes the next n-th of the cells.
		if int(end)*n >= cells*(len(out)+1) && g+1 < len(v.byKey) {
			out = append(out, slices.Clone(v.s.key(v.byKey[g+1])))
		}
	}
	return out
}

// Next implements Cursor.
func (c *stateCursor) Next(dst []Point) (string, []Point, error) {
	for c.group < len(c.ends) && int(c.ends[c.group]) == c.pos {
		c.group++ // a key without cells
	}
	if c.group >= len(c.ends) {
		return "", dst, io.EOF
	}
	s := c.s
	key := c.name(c.group)
	end := int(c.ends[c.group])
	group := c.order[c.pos:end]
	if c.pos < c.cellsFrom || end > c.cellsFrom+len(c.cells) {
		c.copyCells()
	}
	cells := c.cells[c.pos-c.cellsFrom : end-c.cellsFrom]
	// The points are filled where they lie, field by field: a Point
	// built aside and then copied is stored as 8-byte words and loaded
	// back as 16-byte ones, which the CPU cannot forward from its store
	// buffer, and that stall per copy was most of the read-back.
	start := len(dst)
	out := slices.Grow(dst, len(cells))[:start+len(cells)]
	n := start
	for j := range cells {
		cell := &cells[j]
		if n > start && out[n-1].TimeMillis == cell.ts {
			// A twin from another stream (see NewStream): rare.
			sums := cell.counters()
			if cell.n[0] == wideMark {
				sums = *s.wide[group[j]]
			}
			out[n-1].Counters.Add(&sums)
			continue
		}
		p := &out[n]
		n++
		p.TimeMillis = cell.ts
		if cell.n[0] == wideMark {
			p.Counters = *s.wide[group[j]]
		} else {
			cell.fill(&p.Counters)
		}
	}
	dst = out[:n]
	c.pos = end
	c.group++
	return key, dst, nil
}

// cellBatch is about how many cells copyCells copies at a time: 32 KiB.
const cellBatch = 1024

// copyCells copies the cells of the current group and of as many groups
// after it as cellBatch allows into cells. The cells are scattered
// through memory, each load a cache miss. Copied first in a loop whose
// loads nothing waits on, the CPU overlaps the misses; building points
// while loading would make each wait for the one before (the twin check
// branches on it). With many keys a group has few cells, so the loop
// spans groups to have misses to overlap.
func (c *stateCursor) copyCells() {
	g := c.group
	for g+1 < len(c.ends) && int(c.ends[g+1])-c.pos <= cellBatch {
		g++
	}
	from := c.order[c.pos:c.ends[g]]
	c.cells = slices.Grow(c.cells[:0], len(from))[:len(from)]
	for j, i := range from {
		c.cells[j] = *c.s.cell(i)
	}
	c.cellsFrom = c.pos
}

// Close implements Cursor; a State's cursor holds nothing.
func (c *stateCursor) Close() {}
