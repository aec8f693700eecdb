//go:build !unix

package storage

// Sync does nothing on systems where package os cannot fsync a directory
// (Windows); a crash right after a commit may then lose the rename.
func (osRoot) Sync() error { return nil }
