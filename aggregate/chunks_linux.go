//go:build linux

package aggregate

import (
	"syscall"
	"unsafe"
)

// chunkMem hands out cell chunks from anonymous mappings advised for
// transparent huge pages. Nearly every line of a busy log makes a new
// cell, so a run's cells are mostly fresh memory, and on Linux (in VMs
// especially) faulting it in 4 KiB at a time is dear: 32 MiB touched page
// by page took 113 ms here, in huge pages 3-6 ms. With them, a whole
// 1M-line run's page faults are ~8-12% of its CPU, most of them outside
// the cells (see docs/performance.md).
// Cells hold no pointers, so they may live outside the Go heap. The
// mappings are released when the State is garbage collected.
type chunkMem struct {
	maps [][]byte
	free []byte
}

// mapBytes is the size of each mapping: a few aligned 2 MiB huge pages.
const mapBytes = 8 << 20

const madvHugepage = 14 // MADV_HUGEPAGE

func (m *chunkMem) alloc() []cellRec {
	size := chunkCells * int(unsafe.Sizeof(cellRec{}))
	if len(m.free) < size {
		mem, err := syscall.Mmap(-1, 0, mapBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			return make([]cellRec, chunkCells) // the Go heap will do
		}
		_ = syscall.Madvise(mem, madvHugepage) // a hint; fine if refused
		m.maps = append(m.maps, mem)
		m.free = mem
	}
	c := m.free[:size:size]
	m.free = m.free[size:]
	return unsafe.Slice((*cellRec)(unsafe.Pointer(&c[0])), chunkCells)
}

func (m *chunkMem) release() {
	for _, mem := range m.maps {
		_ = syscall.Munmap(mem)
	}
	m.maps, m.free = nil, nil
}
