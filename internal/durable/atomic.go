package durable

import (
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the few operations WriteFileAtomicFS makes. OS is the real one;
// a package's tests may pass a simulated disk that forgets, at a power
// cut, whatever was not made durable.
type FS interface {
	CreateTemp(dir, pattern string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(path string) error
	// SyncDir fsyncs a directory so the entries created, renamed or
	// removed in it last.
	SyncDir(dir string) error
}

// File is the part of *os.File that WriteFileAtomicFS uses.
type File interface {
	Name() string
	Chmod(mode fs.FileMode) error
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// OS is the operating system's file system, as FS.
type OS struct{}

func (OS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }

func (OS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (OS) Remove(path string) error { return os.Remove(path) }

func (OS) SyncDir(dir string) error { return SyncDir(dir) }

// WriteFileAtomic writes data to path durably: a reader (or the next boot)
// sees either the old file or the whole new one. See WriteFileAtomicFS.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return WriteFileAtomicFS(OS{}, path, data, perm)
}

// WriteFileAtomicFS writes data to path on fsys: a temp file beside it,
// fsync, rename over path, fsync of the directory. The temp file is
// removed on error.
func WriteFileAtomicFS(fsys FS, path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := fsys.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			fsys.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(f.Name(), path); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}
