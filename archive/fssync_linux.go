package archive

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fsSyncer makes a whole extraction durable with one syncfs(2) rather than
// an fsync per file and per directory: one journal commit instead of one
// per file and directory (see bench/NOTES.md). It needs Linux 5.8 or later,
// where syncfs reports the write-back errors of the file system since the
// descriptor it is given was opened: the syncer opens it before the first
// file is written.
type fsSyncer struct {
	dir *os.File
}

// newFSSyncer returns a syncer for the file system of root, or nil when
// the kernel is too old or each is set (the caller then fsyncs each file
// and directory).
func newFSSyncer(root *os.Root, each bool) *fsSyncer {
	if each || !kernelAtLeast(5, 8) {
		return nil
	}
	d, err := root.Open(".")
	if err != nil {
		return nil
	}
	return &fsSyncer{dir: d}
}

// sync writes every dirty page and inode of the file system to disk and
// reports a write error seen since the syncer was made.
func (s *fsSyncer) sync() error {
	rc, err := s.dir.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}

func (s *fsSyncer) close() error { return s.dir.Close() }

// kernelAtLeast reports whether the running kernel is major.minor or later.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var maj, mnr int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &maj, &mnr); err != nil {
		return false
	}
	return maj > major || (maj == major && mnr >= minor)
}
