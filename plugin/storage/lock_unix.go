//go:build unix

package storage

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting. A writer
// holds one on its temp file for as long as it writes, so that cleanup can
// tell a live write from one whose process died (the kernel drops the lock
// with the process).
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
