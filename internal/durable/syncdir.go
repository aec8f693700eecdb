package durable

import (
	"errors"
	"os"
	"path/filepath"
)

// SyncDir fsyncs the directory dir, making the entries created, renamed
// or removed in it durable. The errors are those of package os (they name
// the operation and the directory).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return syncClose(d)
}

// SyncDirIn fsyncs the directory dir (slash-separated, relative to root;
// "." is root itself), opened through root so that no name or symlink
// reaches outside it.
func SyncDirIn(root *os.Root, dir string) error {
	d, err := root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	return syncClose(d)
}

// syncClose fsyncs and closes d, reporting both errors.
func syncClose(d *os.File) error {
	err := d.Sync()
	return errors.Join(err, d.Close())
}
