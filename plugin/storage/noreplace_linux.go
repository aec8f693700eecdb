package storage

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RenameNoReplace implements storeRoot with renameat2(RENAME_NOREPLACE)
// on the directory's descriptor. EINVAL, ENOSYS and ENOTSUP (a kernel or
// filesystem without the flag) also wrap errors.ErrUnsupported.
func (o osRoot) RenameNoReplace(from, to string) error {
	dir, err := o.r.Open(".")
	if err != nil {
		return err
	}
	defer dir.Close()
	fd := int(dir.Fd())
	err = unix.Renameat2(fd, from, fd, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: fmt.Errorf("%w: %w", errors.ErrUnsupported, err)}
	default:
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: err}
	}
}
