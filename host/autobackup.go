package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/host/metrics"
	"github.com/pocketbackup/pocketbackup/shared"
)

// The scheduled backup job, as PocketBase names it and its files.
const (
	AutoBackupJob    = "__pbAutoBackup__"
	autoBackupPrefix = "@auto_pb_backup_"
)

// A scheduled run that finds another operation running waits and tries
// again, up to autoBackupAttempts times.
const (
	autoBackupAttempts   = 60
	autoBackupRetryEvery = 10 * time.Second
)

// schedule makes the scheduler match s: the job runs on s's cron, or is
// removed when it has none.
func (h *Host) schedule(s Settings) error {
	if err := h.scheduleVerify(s); err != nil {
		return err
	}
	if s.Backups.Cron == "" {
		h.cron.Remove(AutoBackupJob)
		return nil
	}
	return h.cron.Add(AutoBackupJob, s.Backups.Cron, h.autoBackup)
}

// autoBackup is the scheduled job: an @auto_pb_backup_<time>.zip backup,
// then rotation of the @auto_ backups beyond cronMaxKeep.
func (h *Host) autoBackup(ctx context.Context) {
	h.wg.Add(1)
	defer h.wg.Done()
	key, err := h.beginAutoBackup(ctx)
	if err != nil {
		h.log.Error("scheduled backup did not run", "error", err)
		msg := publicError("Scheduled backup did not run", err)
		h.ops.record(KindCreate, key, msg)
		h.observeMissed(key, err, msg)
		return
	}
	storageURL, rule := h.storageURL(), h.currentSettings().Backups
	err = h.spaceForCreate(ctx, storageURL)
	if err == nil {
		err = h.create(ctx, storageURL, key)
	}
	if err != nil {
		h.log.Error("scheduled backup failed", "key", key, "error", err)
	} else if rotErr := h.rotate(ctx, storageURL, rule); rotErr != nil {
		// The backup itself is good; the extra old ones stay until next time.
		h.log.Error("rotate scheduled backups", "error", rotErr)
	}
	// Rotation is part of the operation: once the lock is free it is done.
	h.finish("Failed to create the scheduled backup", err)
	if err == nil {
		h.verifyAfterCreate(ctx, storageURL, key)
	}
}

// beginAutoBackup takes the lock for a new auto backup, waiting while
// another operation runs (bounded) and for a fresh second when the name
// is taken.
func (h *Host) beginAutoBackup(ctx context.Context) (string, error) {
	for attempt := 1; ; attempt++ {
		key := autoBackupPrefix + h.clock.Now().UTC().Format("20060102150405") + ".zip"
		err := h.ensureNameFree(ctx, "name", key)
		if err == nil {
			if err = h.ops.beginAs(KindCreate, metrics.TriggerScheduled, key); err == nil {
				return key, nil
			}
		}
		var apiErr *jsonapi.Error
		taken := errors.As(err, &apiErr) || errors.Is(err, errKeyInUse)
		if !taken && !errors.Is(err, errOpBusy) {
			return key, err
		}
		if attempt >= autoBackupAttempts {
			return key, fmt.Errorf("another operation kept running: %w", shared.ErrBusy)
		}
		wait := autoBackupRetryEvery
		if taken { // stored or being uploaded: the next second gives a new name
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return key, ctx.Err()
		case <-h.clock.After(wait):
		}
	}
}

// rotate deletes the @auto_pb_backup_ files that rule s does not keep
// (see rotationPlan); other backups and pinned ones are never touched.
func (h *Host) rotate(ctx context.Context, storageURL string, s BackupsSettings) error {
	b, err := h.backups(ctx)
	if err != nil {
		return err
	}
	infos, err := b.List(ctx, storageURL)
	if err != nil {
		return err
	}
	_, forget := rotationPlan(s, infos)
	return h.deleteRotated(ctx, b, storageURL, forget)
}

// deleteRotated deletes the backups a rotation forgets, except one in use.
func (h *Host) deleteRotated(ctx context.Context, b shared.Backups, storageURL string, forget []shared.BackupInfo) error {
	var errs []error
	for _, old := range forget {
		if h.ops.uses(old.Key) {
			continue
		}
		if err := b.Delete(ctx, storageURL, old.Key); err != nil && !errors.Is(err, shared.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		h.log.Info("rotated out backup", "key", old.Key)
	}
	return errors.Join(errs...)
}
