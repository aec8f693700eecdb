package host

import (
	"context"
	"fmt"
)

// preRestorePrefix starts the name of the backup a restore makes of the
// current data before it swaps anything ("always create a backup before
// restoring").
const preRestorePrefix = "@pre_restore_"

// preRestoreBackup backs up the current data as
// @pre_restore_<UTC time>.zip, then keeps only the newest
// preRestoreMaxKeep of those (pinned ones aside). A failed backup is the
// error: the restore must not go on. A failed rotation is only logged.
func (h *Host) preRestoreBackup(ctx context.Context, storageURL string) error {
	key := preRestorePrefix + h.clock.Now().UTC().Format("20060102150405") + ".zip"
	h.log.Info("backing up the current data before the restore", "key", key)
	if err := h.spaceForCreate(ctx, storageURL); err != nil {
		return err
	}
	if err := h.create(ctx, storageURL, key); err != nil {
		return fmt.Errorf("pre-restore backup %q: %w", key, err)
	}
	h.log.Info("pre-restore backup stored", "key", key)
	if err := h.rotatePreRestore(ctx, storageURL, h.currentSettings().Backups.preRestoreKeep()); err != nil {
		h.log.Error("rotate pre-restore backups", "error", err)
	}
	return nil
}

// rotatePreRestore deletes the @pre_restore_ backups beyond the newest keep.
func (h *Host) rotatePreRestore(ctx context.Context, storageURL string, keep int) error {
	b, err := h.backups(ctx)
	if err != nil {
		return err
	}
	infos, err := b.List(ctx, storageURL)
	if err != nil {
		return err
	}
	_, forget := prefixPlan(preRestorePrefix, BackupsSettings{CronMaxKeep: keep}, infos)
	return h.deleteRotated(ctx, b, storageURL, forget)
}
