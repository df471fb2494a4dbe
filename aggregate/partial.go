// Package aggregate owns keyrate's core data type, the partial aggregate:
// per-(key, timestamp) sums of requests and their counters. Partials from
// any number of files, workers or machines merge by addition and are read
// back sorted by (key, timestamp); evaluators turn one key's sorted series
// into report rows. Because merging is addition and reading is sorted,
// results never depend on line or file order.
package aggregate

import "time"

// Counters are the sums kept per (key, timestamp). Every field adds, so
// two Counters for the same (key, timestamp) merge with Add.
type Counters struct {
	Requests  int64
	Status2xx int64
	Status3xx int64
	Status4xx int64
	Status5xx int64
	Status429 int64
	// Rejected counts requests the real gateway refused (by default the
	// 429 responses; see Observation.Rejected).
	Rejected  int64
	BytesSent int64
}

// Add adds o into c.
func (c *Counters) Add(o *Counters) {
	c.Requests += o.Requests
	c.Status2xx += o.Status2xx
	c.Status3xx += o.Status3xx
	c.Status4xx += o.Status4xx
	c.Status5xx += o.Status5xx
	c.Status429 += o.Status429
	c.Rejected += o.Rejected
	c.BytesSent += o.BytesSent
}

// Observation is what one request contributes to its (key, timestamp).
type Observation struct {
	TimeMillis int64
	Status     int
	Bytes      int64
	// Rejected marks a request the real gateway refused.
	Rejected bool
}

// observe adds one request to c.
func (c *Counters) observe(o *Observation) {
	c.Requests++
	switch o.Status / 100 {
	case 2:
		c.Status2xx++
	case 3:
		c.Status3xx++
	case 4:
		c.Status4xx++
	case 5:
		c.Status5xx++
	}
	if o.Status == 429 {
		c.Status429++
	}
	if o.Rejected {
		c.Rejected++
	}
	c.BytesSent += o.Bytes
}

// Millis converts epoch milliseconds, the partial aggregate's time unit,
// to a UTC time.
func Millis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Point is one timestamp of a key's series.
type Point struct {
	TimeMillis int64
	Counters
}

// Series is one key's points in strictly increasing time order.
type Series struct {
	Key    string
	Points []Point
}

// Cursor reads a partial aggregate back: every key's series, in
// ascending byte order of keys, each in strictly increasing time. It is
// the one way partials are read. A State (or a key range of one, see
// SortedState), a Merge and a RunReader are Cursors; evaluation,
// spilling and merging read Cursors.
type Cursor interface {
	// Next appends the next key's points to dst and returns the key and
	// the extended slice, or io.EOF after the last key. Next takes dst:
	// as with append, the result may be in another array, and the
	// cursor may keep dst's for later use, so the caller uses only the
	// result, which is its own (typically passing it, [:0], to the next
	// call). A cursor that holds a series' points already (read ahead,
	// or an input of a merge) can so hand them over without a copy.
	Next(dst []Point) (key string, points []Point, err error)
	// Close releases what the cursor holds (decoders, files, reading
	// goroutines, the cursors it merges). It may be called before the
	// end, and more than once.
	Close()
}

// Partials is a partial aggregate that can be read more than once: each
// Open returns a new Cursor at its first key. The evaluator reads its
// input twice when per-account rules group keys first; a pipeline's
// result reopens its in-memory States and spilled runs each time.
type Partials interface {
	Open() (Cursor, error)
}
