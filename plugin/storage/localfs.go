package storage

import (
	"io"
	"io/fs"
	"os"

	"github.com/pocketbackup/pocketbackup/internal/durable"
)

// fileSystem is what the local store does to the filesystem. osFS, the
// real one, goes through os.Root, so no name (or symlink) reaches outside
// the store's directory; the tests substitute a simulated disk that
// forgets, at a power cut, whatever was not made durable, to prove that
// every fsync here is needed and sufficient.
type fileSystem interface {
	// OpenRoot opens the directory dir for operations on the names
	// directly in it; a missing dir fails wrapping fs.ErrNotExist.
	OpenRoot(dir string) (storeRoot, error)
	// Stat describes path, following symlinks.
	Stat(path string) (fs.FileInfo, error)
	MkdirAll(path string, perm fs.FileMode) error
}

// storeRoot is the part of *os.Root the store uses, plus the directory's
// own fsync and an atomic rename that never replaces its target.
type storeRoot interface {
	// ReadDir lists the directory.
	ReadDir() ([]fs.DirEntry, error)
	Lstat(name string) (fs.FileInfo, error)
	OpenFile(name string, flag int, perm fs.FileMode) (storeFile, error)
	Rename(from, to string) error
	// RenameNoReplace renames from to to atomically, failing with an
	// error wrapping fs.ErrExist when to exists, or errors.ErrUnsupported
	// where the system or filesystem cannot (see renameNoReplace).
	RenameNoReplace(from, to string) error
	Link(from, to string) error
	Remove(name string) error
	// Sync fsyncs the directory, making the creates, renames and removes
	// in it durable.
	Sync() error
	Close() error
}

// storeFile is the part of *os.File the store uses, plus its lock and
// write-back hint.
type storeFile interface {
	io.Writer
	io.ReaderAt
	// Sync makes the contents durable.
	Sync() error
	Close() error
	// Lock takes an exclusive advisory lock without waiting (lockFile).
	Lock() error
	// StartWriteback asks for the range to be written out, without
	// waiting (durable.StartWriteback). It is no durability point: only
	// Sync is.
	StartWriteback(off, n int64)
	// WaitWriteback writes the range out and waits for it
	// (durable.WaitWriteback); no durability point either.
	WaitWriteback(off, n int64)
}

// osFS is the operating system's filesystem.
type osFS struct{}

func (osFS) OpenRoot(dir string) (storeRoot, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return osRoot{r}, nil
}

func (osFS) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }

func (osFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }

// osRoot is a directory opened as an os.Root.
type osRoot struct{ r *os.Root }

func (o osRoot) ReadDir() ([]fs.DirEntry, error) {
	d, err := o.r.Open(".")
	if err != nil {
		return nil, err
	}
	entries, err := d.ReadDir(-1)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return entries, err
}

func (o osRoot) Lstat(name string) (fs.FileInfo, error) { return o.r.Lstat(name) }

func (o osRoot) OpenFile(name string, flag int, perm fs.FileMode) (storeFile, error) {
	f, err := o.r.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (o osRoot) Rename(from, to string) error { return o.r.Rename(from, to) }

func (o osRoot) Link(from, to string) error { return o.r.Link(from, to) }

func (o osRoot) Remove(name string) error { return o.r.Remove(name) }

func (o osRoot) Close() error { return o.r.Close() }

// osFile is an open *os.File.
type osFile struct{ *os.File }

func (f osFile) Lock() error { return lockFile(f.File) }

func (f osFile) StartWriteback(off, n int64) { durable.StartWriteback(f.File, off, n) }

func (f osFile) WaitWriteback(off, n int64) { durable.WaitWriteback(f.File, off, n) }
