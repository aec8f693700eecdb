package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/pocketbackup/pocketbackup/internal/simdisk"
)

// simFS is the simulated disk of internal/simdisk seen through the local
// store's fileSystem seam (see simdisk for what a power cut keeps).
type simFS struct {
	d *simdisk.Disk
	// noRenameat2 makes RenameNoReplace unsupported, as on a filesystem
	// without RENAME_NOREPLACE: the store then links and unlinks.
	noRenameat2 bool
	// writebacks counts StartWriteback calls.
	writebacks *int
	// pacing, when set, follows the write-back ranges.
	pacing *pacing
}

// pacing records how far a file was handed to write-back and how far it
// was waited for, and the most ever in flight between the two.
type pacing struct {
	started, waited, maxInFlight int64
}

var _ fileSystem = simFS{}

func (s simFS) OpenRoot(dir string) (storeRoot, error) {
	fi, err := s.d.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "openat", Path: dir, Err: syscall.ENOTDIR}
	}
	return simRoot{fs: s, dir: dir}, nil
}

func (s simFS) Stat(p string) (fs.FileInfo, error) { return s.d.Lstat(p) }

func (s simFS) MkdirAll(p string, perm fs.FileMode) error {
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/") {
		cur = path.Join(cur, part)
		if _, err := s.d.Lstat(cur); err == nil {
			continue
		}
		if err := s.d.Mkdir(cur, perm); err != nil {
			return err
		}
	}
	return nil
}

// simRoot is a store directory on the simulated disk. Like os.Root, it
// refuses names that are not plain names in it.
type simRoot struct {
	fs  simFS
	dir string
}

func (r simRoot) path(op, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return "", &fs.PathError{Op: op, Path: name, Err: errors.New("path escapes from parent")}
	}
	return r.dir + "/" + name, nil
}

func (r simRoot) ReadDir() ([]fs.DirEntry, error) { return r.fs.d.ReadDir(r.dir) }

func (r simRoot) Lstat(name string) (fs.FileInfo, error) {
	p, err := r.path("lstat", name)
	if err != nil {
		return nil, err
	}
	return r.fs.d.Lstat(p)
}

func (r simRoot) OpenFile(name string, flag int, perm fs.FileMode) (storeFile, error) {
	p, err := r.path("open", name)
	if err != nil {
		return nil, err
	}
	f, err := r.fs.d.OpenFile(p, flag, perm)
	if err != nil {
		return nil, err
	}
	return simFile{File: f, writebacks: r.fs.writebacks, pacing: r.fs.pacing}, nil
}

func (r simRoot) two(op, from, to string) (string, string, error) {
	a, err := r.path(op, from)
	if err != nil {
		return "", "", err
	}
	b, err := r.path(op, to)
	return a, b, err
}

func (r simRoot) Rename(from, to string) error {
	a, b, err := r.two("rename", from, to)
	if err != nil {
		return err
	}
	return r.fs.d.Rename(a, b)
}

func (r simRoot) RenameNoReplace(from, to string) error {
	a, b, err := r.two("renameat2", from, to)
	if err != nil {
		return err
	}
	if r.fs.noRenameat2 {
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: fmt.Errorf("%w: %w", errors.ErrUnsupported, syscall.EINVAL)}
	}
	return r.fs.d.RenameNoReplace(a, b)
}

func (r simRoot) Link(from, to string) error {
	a, b, err := r.two("link", from, to)
	if err != nil {
		return err
	}
	return r.fs.d.Link(a, b)
}

func (r simRoot) Remove(name string) error {
	p, err := r.path("remove", name)
	if err != nil {
		return err
	}
	return r.fs.d.Remove(p)
}

func (r simRoot) Sync() error { return r.fs.d.SyncDir(r.dir) }

func (r simRoot) Close() error { return nil }

// simFile is an open file of the simulated disk. Its write-back hint
// makes nothing durable, as on a real disk: only Sync does.
type simFile struct {
	*simdisk.File
	writebacks *int
	pacing     *pacing
}

func (f simFile) WaitWriteback(off, n int64) {
	if p := f.pacing; p != nil {
		p.waited = max(p.waited, off+n)
	}
}

func (f simFile) StartWriteback(off, n int64) {
	if p := f.pacing; p != nil {
		p.started = max(p.started, off+n)
		p.maxInFlight = max(p.maxInFlight, p.started-p.waited)
	}
	if f.writebacks != nil {
		*f.writebacks++
	}
}
