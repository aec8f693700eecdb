// Package storage is where finished backups live: a small interface that a
// storage plugin implements, a native local-directory implementation
// (file://) and one over gocloud.dev/blob (mem://, s3://, gs://, azblob://).
// Open picks one by URL; shared.S3URL builds an s3:// URL from S3 settings, and
// Redact makes any URL fit to log or show. Package storagetest checks any
// implementation.
package storage

import (
	"context"
	"io"
	"time"
)

// Object is one stored backup.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	// Pinned is the object's pin, for stores that are a Pinner.
	Pinned bool
	// SHA256 is the lowercase hex SHA-256 of the whole object, kept with
	// it by stores whose writers are DigestWriters; "" when not known.
	SHA256 string
}

// Store keeps backups under flat keys (no '/'). Implementations must be safe
// for concurrent use. Errors wrap shared.ErrNotFound for missing keys.
type Store interface {
	// List returns every finished object. It never returns objects being
	// written, temp files or metadata sidecars.
	List(ctx context.Context) ([]Object, error)
	// Stat returns one object or an error wrapping shared.ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// NewRangeReader reads length bytes from offset (length < 0: to the end).
	NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// NewWriter starts writing key. Nothing is visible until Commit returns
	// nil; Abort discards everything written. One of them must be called.
	NewWriter(ctx context.Context, key string) (Writer, error)
	// Delete removes key, or returns an error wrapping shared.ErrNotFound.
	Delete(ctx context.Context, key string) error
	// Close releases the store.
	Close() error
}

// Writer is an object being written.
type Writer interface {
	io.Writer
	// Commit makes the object visible, atomically, under its key. It never
	// replaces an object: if the key exists it fails with an error wrapping
	// shared.ErrExists and leaves that object untouched.
	Commit() error
	// Abort discards the object; nothing of it remains.
	Abort() error
}

// Opener opens the store a URL names.
type Opener func(ctx context.Context, url string) (Store, error)

// LocalFiler is implemented by stores whose objects are local files. The
// host may then read a backup itself, zero-copy, instead of having its
// bytes streamed through the plugin (the local equivalent of a signed URL).
type LocalFiler interface {
	// LocalPath returns the absolute path of key's file, or an error
	// wrapping shared.ErrNotFound.
	LocalPath(ctx context.Context, key string) (string, error)
}
