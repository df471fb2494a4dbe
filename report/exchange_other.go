//go:build !linux

package report

import "errors"

// exchange would swap two names atomically; only Linux has that.
func exchange(path1, path2 string) error { return errors.ErrUnsupported }
