//go:build !linux

package report

// exchange replaces final by tmp; without an atomic exchange it takes two
// renames.
func exchange(tmp, final string) error { return renameAside(tmp, final) }
