//go:build unix

package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDataDirInUse is returned when another process holds the data
// directory: an app serving it, or an offline backup or restore.
var ErrDataDirInUse = errors.New("the data directory is in use by a running app or another offline backup or restore")

// dataDirLockFile is the file whose flock marks a data directory in use.
// It sits in the host's state folder, which is never archived or swapped.
const dataDirLockFile = "app.lock"

// lockDataDir takes the data directory's exclusive lock without waiting.
// The kernel drops it when the process ends, however it ends, and at an
// exec (the descriptor is close-on-exec): a crashed app never leaves a
// stale lock. Call the returned function to release it.
func lockDataDir(dataDir string) (func(), error) {
	if err := os.MkdirAll(stateDir(dataDir), 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir(dataDir), dataDirLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dataDir, ErrDataDirInUse)
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
