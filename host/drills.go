package host

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/pocketbackup/pocketbackup/host/cron"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// VerifyJob is the scheduled verification's job: it verifies the newest
// backup on the settings' backups.verify.cron.
const VerifyJob = "__pbVerifyBackup__"

// VerifySettings are the backup drills (backups.verify in the settings):
// a schedule verifying the newest backup, and the verification of each
// scheduled backup right after it is made.
type VerifySettings struct {
	// Cron schedules the verification of the newest backup; "" for none.
	Cron string `json:"cron"`
	// Mode is "quick" or "deep" (the default).
	Mode string `json:"mode"`
	// AfterCreate verifies each scheduled backup once it is stored.
	AfterCreate bool `json:"afterCreate"`
}

// mode is the drill's verify mode, deep unless set.
func (v *VerifySettings) mode() string {
	if v == nil || v.Mode == "" {
		return shared.VerifyDeep
	}
	return v.Mode
}

// validate returns the invalid fields of backups.verify, or nil.
func (v *VerifySettings) validate() map[string]any {
	if v == nil {
		return nil
	}
	fields := map[string]any{}
	if v.Cron != "" {
		if _, err := cron.Parse(v.Cron); err != nil {
			fields["cron"] = jsonapi.FieldError{Code: "validation_invalid_cron", Message: "Invalid cron expression: " + cronReason(err) + "."}
		}
	}
	if v.Mode != "" && v.Mode != shared.VerifyQuick && v.Mode != shared.VerifyDeep {
		fields["mode"] = jsonapi.FieldError{Code: "validation_in_invalid", Message: `Must be "quick" or "deep".`}
	}
	if len(fields) == 0 {
		return nil
	}
	return fields
}

// scheduleVerify makes the scheduler's verify job match s.
func (h *Host) scheduleVerify(s Settings) error {
	v := s.Backups.Verify
	if v == nil || v.Cron == "" {
		h.cron.Remove(VerifyJob)
		return nil
	}
	return h.cron.Add(VerifyJob, v.Cron, h.verifyNewest)
}

// verifyNewest is the scheduled verification: the newest backup, in the
// drill's mode.
func (h *Host) verifyNewest(ctx context.Context) {
	h.wg.Add(1)
	defer h.wg.Done()
	storageURL := h.storageURL()
	key, err := h.newestBackup(ctx, storageURL)
	if err != nil {
		h.log.Error("scheduled verification did not run", "error", err)
		h.ops.record(KindVerify, key, publicError("Scheduled verification did not run", err))
		return
	}
	if key == "" {
		h.log.Info("scheduled verification: no backup to verify")
		return
	}
	h.drill(ctx, storageURL, key, h.currentSettings().Backups.Verify.mode())
}

// drill verifies key in mode as a scheduled job: it waits (bounded) for
// the lock like a scheduled backup, then verifies.
func (h *Host) drill(ctx context.Context, storageURL, key, mode string) {
	if err := h.beginWaiting(ctx, KindVerify, key); err != nil {
		h.log.Error("scheduled verification did not run", "key", key, "error", err)
		h.ops.record(KindVerify, key, publicError("Scheduled verification did not run", err))
		return
	}
	h.runVerify(storageURL, key, mode)
}

// beginWaiting takes the lock for kind on key, waiting while another
// operation runs, at most autoBackupAttempts times autoBackupRetryEvery.
func (h *Host) beginWaiting(ctx context.Context, kind, key string) error {
	for attempt := 1; ; attempt++ {
		err := h.ops.begin(kind, key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errOpBusy) && !errors.Is(err, errKeyInUse) {
			return err
		}
		if attempt >= autoBackupAttempts {
			return fmt.Errorf("another operation kept running: %w", shared.ErrBusy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.clock.After(autoBackupRetryEvery):
		}
	}
}

// newestBackup is the key of the most recently stored backup, or "".
func (h *Host) newestBackup(ctx context.Context, storageURL string) (string, error) {
	b, err := h.backups(ctx)
	if err != nil {
		return "", err
	}
	infos, err := b.List(ctx, storageURL)
	if err != nil {
		return "", fmt.Errorf("list: %w", err)
	}
	if len(infos) == 0 {
		return "", nil
	}
	sort.Slice(infos, func(i, j int) bool {
		if !infos[i].Modified.Equal(infos[j].Modified) {
			return infos[i].Modified.After(infos[j].Modified)
		}
		return infos[i].Key > infos[j].Key
	})
	return infos[0].Key, nil
}

// verifyAfterCreate verifies a scheduled backup just made, when the
// settings ask for it.
func (h *Host) verifyAfterCreate(ctx context.Context, storageURL, key string) {
	v := h.currentSettings().Backups.Verify
	if v == nil || !v.AfterCreate {
		return
	}
	h.drill(ctx, storageURL, key, v.mode())
}
