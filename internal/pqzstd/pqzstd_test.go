package pqzstd

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The Parquet codec must round-trip pages and declare a window no larger
// than Window, which is what bounds each encoder's memory.
func TestZstdCodecSmallWindowRoundTrip(t *testing.T) {
	var c Codec
	page := bytes.Repeat([]byte("k_live_0123456789abcdef,2026-11-01T00:00:00Z,"), 40_000) // ~1.8 MB
	enc, err := c.Encode(nil, page)
	if err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(enc); err != nil {
		t.Fatal(err)
	}
	if h.WindowSize == 0 || h.WindowSize > Window {
		t.Errorf("frame window %d, want at most %d", h.WindowSize, Window)
	}
	dec, err := c.Decode(nil, enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec, page) {
		t.Fatal("page changed in a round trip")
	}
}
