package report

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange atomically swaps the names tmp and final (renameat2
// RENAME_EXCHANGE); on a file system without it, it falls back to two
// renames.
func exchange(tmp, final string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		return renameAside(tmp, final)
	}
	return err
}
