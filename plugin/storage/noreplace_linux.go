package storage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames from to to in root's directory (dir is that
// directory, open), failing with an error wrapping fs.ErrExist when to
// exists, atomically: renameat2 with RENAME_NOREPLACE. Where the
// filesystem or kernel does not support that flag, a hard link then an
// unlink does the same (see linkNoReplace).
func renameNoReplace(root *os.Root, dir *os.File, from, to string) error {
	fd := int(dir.Fd())
	err := unix.Renameat2(fd, from, fd, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return linkNoReplace(root, from, to)
	default:
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: err}
	}
}
