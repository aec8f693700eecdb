package archive

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to start writing the dirty pages of n bytes of
// f from off to disk, without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It is only a head start for the fsync that
// follows: errors are ignored.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { //nolint:errcheck // a head start only
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) //nolint:errcheck
	})
}
