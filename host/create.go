package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/shared"
)

// runCreate builds backup key: database snapshots first, then the plugin
// archives the data directory with the snapshots in place of the live
// databases. It records the outcome and releases the lock.
func (h *Host) runCreate(storageURL, key string) {
	start := time.Now()
	err := h.create(h.ctx, storageURL, key)
	if err != nil {
		h.log.Error("backup failed", "key", key, "error", err)
	} else {
		h.log.Info("backup done", "key", key, "seconds", time.Since(start).Seconds())
	}
	h.finish("Failed to create backup", err)
}

// create snapshots the databases, has the plugin archive the data
// directory with the snapshots in their place, and releases the snapshots
// once the plugin has read them, or when it returns, on every path. A
// frozen database found changed at release means the stored archive may
// hold a torn copy: the backup is deleted and create fails.
func (h *Host) create(ctx context.Context, storageURL, key string) (err error) {
	start := time.Now()
	snapDir, err := os.MkdirTemp(filepath.Join(h.cfg.DataDir, tempDirName), "snapshot-")
	if err != nil {
		return fmt.Errorf("snapshot dir: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(snapDir)) }()
	snap, err := sqlitesnap.Take(ctx, h.cfg.DataDir, snapDir)
	if err != nil {
		return atStage(stageSnapshot, err)
	}
	var stored *shared.BackupInfo
	// The plugin says when it has read the frozen databases (they are
	// archived first): they are released then, not after the upload.
	// earlyErr is what that release found.
	var relMu sync.Mutex
	var earlyErr error
	releaseEarly := func() {
		relMu.Lock()
		defer relMu.Unlock()
		earlyErr = snap.Release(ctx)
		if earlyErr != nil {
			h.log.Error("a database changed while the archive read it; the backup will be deleted", "key", key, "error", earlyErr)
			return
		}
		h.log.Info("databases read by the archive; released", "key", key, "seconds", time.Since(start).Seconds())
	}
	defer func() {
		relMu.Lock()
		defer relMu.Unlock()
		relErr := errors.Join(earlyErr, snap.Release(ctx))
		switch {
		case relErr != nil && stored != nil:
			relErr = atStage(stageSnapshot, relErr)
			// Stored, but it may hold a torn database: it must not stay.
			err = errors.Join(err, relErr, h.withPlugin(ctx, func(b shared.Backups) error {
				return b.Delete(ctx, storageURL, key)
			}))
		case relErr != nil:
			err = errors.Join(err, atStage(stageSnapshot, relErr))
		case stored != nil:
			h.log.Info("backup stored", "key", stored.Key, "size", stored.Size)
		}
	}()
	for _, d := range snap.DBs {
		args := []any{"name", d.Name, "method", d.Method, "seconds", d.Took.Seconds()}
		if held, ok := d.WriteLock(); ok {
			args = append(args, "write_lock_seconds", held.Seconds())
		}
		if d.Reason != "" {
			args = append(args, "reason", d.Reason)
		}
		h.log.Info("database snapshot", args...)
	}
	if h.beforeArchive != nil {
		h.beforeArchive()
	}
	b, err := h.backups(ctx)
	if err != nil {
		return err
	}
	exclude := append(append([]string{}, DefaultExcludes...), h.cfg.Exclude...)
	info, err := b.Create(ctx, shared.CreateRequest{
		StorageURL:   storageURL,
		Key:          key,
		DataDir:      h.cfg.DataDir,
		Replace:      snap.Replace(),
		Exclude:      exclude,
		ReplacedRead: releaseEarly,
	}, func(p shared.Progress) { h.ops.progress(p.Done, p.Total) })
	if err != nil {
		return atStage(stageArchive, fmt.Errorf("archive: %w", err))
	}
	stored = &info
	return nil
}
