package parse

// RecordSource yields the records of a whole input that is not made of
// lines, such as a Parquet file of access logs. Line formats go through
// LineReader and a LineParser instead.
type RecordSource interface {
	// Next fills rec with the next record and returns io.EOF after the
	// last. A *SyntaxError rejects one row (counted as malformed; reading
	// goes on); any other error ends the input. rec's slices are valid
	// until the next call.
	Next(rec *Record) error
	// Row is the 1-based number of the row last returned by Next.
	Row() int64
	// Format names the input's format for the manifest.
	Format() string
	// Close releases the input.
	Close() error
}
