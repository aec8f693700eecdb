package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWritebackFlags is sync_file_range's SYNC_FILE_RANGE_WRITE alone:
// start writing the dirty pages of the range, wait for nothing (neither
// for earlier write-out of the range nor for this one).
const startWritebackFlags = unix.SYNC_FILE_RANGE_WRITE

// StartWriteback asks Linux to start writing the dirty pages of n bytes of
// f from off to disk, without waiting for them (sync_file_range(2)). A big
// file then reaches the disk as it is written, and the fsync that ends it
// waits for its tail only instead of flushing it all at once, stalling
// every other writer on the file system (the app's SQLite commits among
// them). It is a hint, not a durability point: only an fsync is, so errors
// are ignored.
func StartWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { //nolint:errcheck // a hint only
		unix.SyncFileRange(int(fd), off, n, startWritebackFlags) //nolint:errcheck
	})
}

// waitWritebackFlags write out the range and wait for all of its
// write-out, earlier and new, to complete.
const waitWritebackFlags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER

// WaitWriteback writes the dirty pages of n bytes of f from off to disk
// and waits until they are written (sync_file_range(2)). A writer of a big
// file that waits for its previous window this way keeps only a window or
// two in the disk's queue: the disk stays busy, while another process's
// fsync (the app's SQLite commit) waits behind a few MiB instead of
// everything the writer produced since. Like StartWriteback it is no
// durability point (no metadata, no disk cache flush), and errors are
// left to the fsync that ends the file.
func WaitWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { //nolint:errcheck // a hint only
		unix.SyncFileRange(int(fd), off, n, waitWritebackFlags) //nolint:errcheck
	})
}
