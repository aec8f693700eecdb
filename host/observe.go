package host

import (
	"context"
	"errors"
	"time"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/host/metrics"
	"github.com/pocketbackup/pocketbackup/host/notify"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Stages an operation fails at: the metrics' and the events' stage label.
const (
	stageSnapshot = "snapshot" // SQLite snapshots and their release
	stageArchive  = "archive"  // the plugin building and storing the zip
	stageExtract  = "extract"  // the plugin fetching and extracting a backup
	stageVerify   = "verify"   // checking the databases
	stageShutdown = "shutdown" // stopping the app for a restore's swap
	stageSwap     = "swap"     // swapping the data directory
	stageLock     = "lock"     // a scheduled backup that never got the lock
	stageOther    = "other"
)

// stageError marks err with the stage it happened at; its text is err's.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// atStage marks err (nil stays nil) with stage.
func atStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: stage, err: err}
}

// failureStage is the stage err was marked with, stageOther when none.
func failureStage(err error) string {
	var se *stageError
	if errors.As(err, &se) {
		return se.stage
	}
	return stageOther
}

// errorKind names err's kind from a small fixed set (a metrics label and
// an event field; publicError has the sentence).
func errorKind(err error) string {
	switch {
	case errors.Is(err, shared.ErrNoSpace):
		return "no_space"
	case errors.Is(err, shared.ErrNoBucket):
		return "no_bucket"
	case errors.Is(err, shared.ErrAccessDenied):
		return "access_denied"
	case errors.Is(err, shared.ErrStorageUnreachable):
		return "unreachable"
	case errors.Is(err, shared.ErrExists):
		return "exists"
	case errors.Is(err, shared.ErrNotFound):
		return "not_found"
	case errors.Is(err, sqlitesnap.ErrCheckerLimit):
		return "checker_limit"
	case errors.Is(err, shared.ErrInvalid):
		return "invalid"
	case errors.Is(err, shared.ErrBusy):
		return "busy"
	case errors.Is(err, shared.ErrUnavailable):
		return "plugin_unavailable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "other"
	}
}

// storageKind is the storage_errors_total kind of err, "" when err is not
// a failure of the storage itself.
func storageKind(err error) string {
	switch k := errorKind(err); k {
	case "no_space", "no_bucket", "access_denied", "unreachable":
		return k
	}
	return ""
}

// observe records a finished operation in the metrics and sends its event.
func (h *Host) observe(run RunningOperation, err error, publicMsg string) {
	now := h.clock.Now()
	took := now.Sub(run.Started.Time)
	trigger := run.Trigger
	if trigger == "" {
		trigger = metrics.TriggerManual
	}
	if err == nil {
		h.metrics.Succeeded(run.Kind, trigger, took, run.BytesTotal, now)
		if run.Kind == KindCreate {
			h.goodBackup(now)
		}
		if h.notifySettings().OnSuccess {
			h.sendEvent(notify.Event{Type: notify.EventSucceeded, Operation: run.Kind, Trigger: trigger, Key: run.Key})
		}
		return
	}
	stage, kind := failureStage(err), errorKind(err)
	h.metrics.Failed(run.Kind, trigger, stage, kind, took)
	if sk := storageKind(err); sk != "" {
		h.metrics.StorageError(sk)
	}
	h.sendEvent(notify.Event{Type: notify.EventFailed, Operation: run.Kind, Trigger: trigger, Key: run.Key,
		Stage: stage, Kind: kind, Message: publicMsg})
}

// observeMissed records a scheduled backup that did not run.
func (h *Host) observeMissed(key string, err error, publicMsg string) {
	stage, kind := stageOther, errorKind(err)
	ev := notify.Event{Type: notify.EventFailed, Operation: KindCreate, Trigger: metrics.TriggerScheduled, Key: key,
		Kind: kind, Message: publicMsg}
	if errors.Is(err, shared.ErrBusy) {
		stage, ev.Type = stageLock, notify.EventScheduledMissed
	}
	ev.Stage = stage
	h.metrics.Failed(KindCreate, metrics.TriggerScheduled, stage, kind, 0)
	if sk := storageKind(err); sk != "" {
		h.metrics.StorageError(sk)
	}
	h.sendEvent(ev)
}

// observeUpload records a stored upload.
func (h *Host) observeUpload(key string, size int64, took time.Duration) {
	h.metrics.Succeeded(KindCreate, metrics.TriggerUpload, took, size, h.clock.Now())
	if h.notifySettings().OnSuccess {
		h.sendEvent(notify.Event{Type: notify.EventSucceeded, Operation: KindCreate, Trigger: metrics.TriggerUpload, Key: key})
	}
}

// observeRecovered reports the restore that the previous process swapped
// in and Recover settled at this start (its outcome is o).
func (h *Host) observeRecovered(o *Outcome) {
	started, finished := o.Started.Time, o.Finished.Time
	if o.OK {
		h.metrics.Succeeded(KindRestore, metrics.TriggerManual, finished.Sub(started), 0, finished)
		h.sendEvent(notify.Event{Type: notify.EventRestoreCompleted, Operation: KindRestore, Key: o.Key})
		return
	}
	h.metrics.Failed(KindRestore, metrics.TriggerManual, stageVerify, "invalid", finished.Sub(started))
	h.sendEvent(notify.Event{Type: notify.EventFailed, Operation: KindRestore, Key: o.Key,
		Stage: stageVerify, Kind: "invalid", Message: o.Error})
}

// listed records what a listing of the storage found.
func (h *Host) listed(infos []shared.BackupInfo) {
	var total int64
	var newest shared.BackupInfo
	for _, info := range infos {
		total += info.Size
		if info.Modified.After(newest.Modified) {
			newest = info
		}
	}
	h.metrics.Stored(len(infos), total)
	h.fresh.mu.Lock()
	h.fresh.newestSize = newest.Size
	h.fresh.listedOnce = true
	seed := h.fresh.lastGood.IsZero() && !newest.Modified.IsZero()
	h.fresh.mu.Unlock()
	if seed {
		// No good backup recorded yet (first start with this host):
		// the newest stored one is the best knowledge there is.
		h.goodBackup(newest.Modified)
	}
}

// notifySettings is the notify section in force.
func (h *Host) notifySettings() NotifySettings { return h.currentSettings().Backups.Notify }

// sendEvent hands ev to the notifier under the settings in force; it
// never waits for the delivery.
func (h *Host) sendEvent(ev notify.Event) {
	if ev.Time.IsZero() {
		ev.Time = h.clock.Now().UTC()
	}
	cfg := h.notifySettings().config()
	if cfg.Empty() {
		return
	}
	h.notifier.Send(cfg, ev)
}
