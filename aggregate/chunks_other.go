//go:build !linux

package aggregate

// chunkMem allocates cell chunks on the Go heap (see chunks_linux.go for
// the huge-page mappings used on Linux).
type chunkMem struct{}

func (m *chunkMem) alloc() []cellRec { return make([]cellRec, chunkCells) }

func (m *chunkMem) release() {}
