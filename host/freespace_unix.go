//go:build unix

package host

import (
	"fmt"
	"syscall"
)

// statfsSpace reads the free space of the filesystem holding path:
// the blocks available to unprivileged users, and the filesystem's
// device number.
func statfsSpace(path string) (fsSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsSpace{}, fmt.Errorf("statfs: %w", err)
	}
	var sys syscall.Stat_t
	if err := syscall.Stat(path, &sys); err != nil {
		return fsSpace{}, fmt.Errorf("stat: %w", err)
	}
	return fsSpace{avail: int64(st.Bavail) * int64(st.Bsize), dev: uint64(sys.Dev)}, nil
}
