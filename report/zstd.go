package report

import "github.com/keyrate/keyrate/internal/pqzstd"

// zstdWindow bounds how far back a Parquet page's compression looks: at
// least a dictionary page (see pqzstd.Window).
const zstdWindow = pqzstd.Window

var _ = [zstdWindow - dictionaryMaxBytes]struct{}{} // zstdWindow >= dictionaryMaxBytes

// zstdCodec is Parquet's ZSTD compression with a window sized to the
// pages, shared with the partial aggregate's files (see pqzstd.Codec).
type zstdCodec = pqzstd.Codec
