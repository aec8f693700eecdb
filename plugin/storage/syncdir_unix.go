//go:build unix

package storage

import "github.com/pocketbackup/pocketbackup/internal/durable"

// Sync implements storeRoot: it fsyncs the directory.
func (o osRoot) Sync() error { return durable.SyncDirIn(o.r, ".") }
