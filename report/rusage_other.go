//go:build !(linux || freebsd || netbsd || openbsd || dragonfly || darwin)

package report

// peakRSSBytes is 0 where getrusage is missing (Windows): the manifest's
// peak_rss_bytes then says "not measured".
func peakRSSBytes() int64 { return 0 }
