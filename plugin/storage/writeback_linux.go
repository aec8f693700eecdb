package storage

import (
	"os"
	"syscall"
)

// writebackEvery is how many bytes a writer lets pile up in the page cache
// before asking the kernel to start writing them out.
const writebackEvery = 8 << 20

// startWriteback asks the kernel to begin writing the range out, without
// waiting. A big backup then reaches the disk as it is written, and the
// final fsync does not flush a gigabyte at once, stalling every other
// writer on the filesystem (the app's SQLite commits among them).
func startWriteback(f *os.File, off, n int64) {
	_ = syscall.SyncFileRange(int(f.Fd()), off, n, 2 /* SYNC_FILE_RANGE_WRITE */)
}
