package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/internal/filestamp"
	"github.com/pocketbackup/pocketbackup/restore"
)

// Recover settles the data directory after a restart: it completes or
// rolls back a restore the previous process left unfinished, verifies the
// restored databases (PRAGMA quick_check) and puts the old data back when
// they fail, and records the outcome for /api/health. The databases were
// checked while staged, before the app stopped; only those that no longer
// match the stamps taken then (recorded in the restore journal) are
// checked again, so the app is not kept down re-reading what it checked.
// Call it at start, before anything opens a file in dataDir. An error
// means the data directory could not be settled: the app must not start.
func Recover(ctx context.Context, dataDir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if _, err := os.Stat(stateDir(dataDir)); errors.Is(err, os.ErrNotExist) {
		return nil // a fresh data directory: nothing to settle
	}
	// Not while an offline restore (or another app) works on the data.
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	defer unlock()
	return recoverLocked(ctx, dataDir, log)
}

// recoverLocked is Recover for a caller that holds the data directory's
// lock.
func recoverLocked(ctx context.Context, dataDir string, log *slog.Logger) error {
	out, err := restore.ResumeChecked(stateDir(dataDir), func(dir string, checked []filestamp.Stamp) error {
		again, err := sqlitesnap.VerifyChanged(ctx, dir, checked)
		log.Info("restored databases verified", "stamped", len(checked), "checked_again", again)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("recover restore: %w", err)
	}
	if !out.Found {
		return nil
	}
	outcome := &Outcome{Kind: KindRestore, Key: out.Key, OK: out.Restored,
		Started: APITime{out.Started}, Finished: APITime{out.Finished}}
	if out.Restored {
		log.Info("restore completed", "key", out.Key)
	} else {
		log.Error("restored data failed verification; the old data is back", "key", out.Key, "error", out.Err)
		outcome.Error = "Failed to restore backup: the restored databases failed verification; the previous data was kept."
	}
	if err := saveOutcome(dataDir, outcome); err != nil {
		return err
	}
	// The next Host reports it (metrics and the restore_completed event).
	if err := durable.WriteFileAtomic(filepath.Join(stateDir(dataDir), restoreNoticeFile), nil, 0o600); err != nil {
		log.Warn("restore notice not written; the restore will not be notified", "error", err)
	}
	return nil
}
