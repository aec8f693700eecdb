package restore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pocketbackup/pocketbackup/internal/durable"
)

// fileSystem is the few operations a swap and its recovery make. osFS,
// the real one, is what the exported functions use; the tests substitute a
// simulated disk that forgets, at a power cut, whatever was not made
// durable, to prove that every fsync here is needed and sufficient.
type fileSystem interface {
	// Lstat returns nil when path exists (without following a symlink).
	Lstat(path string) error
	// ReadDir returns the names in dir, sorted.
	ReadDir(dir string) ([]string, error)
	ReadFile(path string) ([]byte, error)
	Mkdir(path string, perm fs.FileMode) error
	// CreateTemp, Rename, Remove and SyncDir (the fsync of a directory),
	// which durable.WriteFileAtomicFS uses too.
	durable.FS
}

// osFS is the operating system's filesystem.
type osFS struct{ durable.OS }

func (osFS) Lstat(path string) error {
	_, err := os.Lstat(path)
	return err
}

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

func (osFS) Mkdir(path string, perm fs.FileMode) error { return os.Mkdir(path, perm) }

// makeDir creates dir and its missing parents, fsyncing the parent of
// each folder it creates, and fsyncs dir's parent even when dir was there
// already (a process that died after creating it may not have made it
// durable): entries moved into dir then outlive a power cut.
func makeDir(fsys fileSystem, dir string) error {
	err := fsys.Lstat(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if err != nil {
		if parent != dir {
			if err := makeDir(fsys, parent); err != nil {
				return err
			}
		}
		if err := fsys.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return fsys.SyncDir(parent)
}
