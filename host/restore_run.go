package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/restore"
	"github.com/pocketbackup/pocketbackup/shared"
)

// restoreKeep are the data-directory entries a restore leaves in place:
// those never archived (DefaultExcludes, the state folder) and the
// top-level entries of exclude. A nested exclude ("storage/thumbs") keeps
// nothing: the restore replaces its top-level entry wholly (see
// Config.Exclude).
func restoreKeep(exclude []string) []string {
	keep := append(append([]string{}, DefaultExcludes...), stateDirName)
	for _, p := range exclude {
		if name, ok := topLevelEntry(p); ok && !slices.Contains(keep, name) {
			keep = append(keep, name)
		}
	}
	return keep
}

// topLevelEntry returns the data-directory entry that the relative,
// '/'-separated path p names, when p names one directly ("cache",
// "./cache/"): false for nested and non-local paths.
func topLevelEntry(p string) (string, bool) {
	clean := path.Clean(p)
	if clean == "." || clean == ".." || strings.Contains(clean, "/") || !filepath.IsLocal(clean) {
		return "", false
	}
	return clean, true
}

// runRestore stages the backup, stops the app, swaps the data in and
// restarts the process. Failures before the swap leave the app running on
// its old data and are reported in /api/health.
func (h *Host) runRestore(storageURL, key string) {
	start := time.Now()
	workDir, err := os.MkdirTemp(filepath.Join(h.cfg.DataDir, tempDirName), "restore-")
	if err == nil {
		err = h.stage(h.ctx, storageURL, key, filepath.Join(workDir, "staged"))
	}
	if err != nil {
		h.failRestore(key, workDir, err)
		return
	}
	h.log.Info("restore staged; stopping the app to swap the data in", "key", key, "seconds", time.Since(start).Seconds())
	if err := h.cfg.Shutdown(h.ctx); err != nil {
		// The app may be half down: restart on the old data.
		h.log.Error("app shutdown for restore failed; restarting on the old data", "error", err)
		h.restartAfter(key, atStage(stageShutdown, errors.Join(errors.New("app shutdown failed"), err)))
		return
	}
	j, err := restore.Prepare(stateDir(h.cfg.DataDir), h.cfg.DataDir, filepath.Join(workDir, "staged"), filepath.Join(workDir, "old"), key, restoreKeep(h.cfg.Exclude))
	if err == nil {
		err = restore.Swap(j, nil)
	}
	if err != nil {
		h.log.Error("restore swap failed; putting the old data back", "key", key, "error", err)
		h.restartAfter(key, atStage(stageSwap, errors.Join(fmt.Errorf("swap: %w", err), restore.Abandon(stateDir(h.cfg.DataDir)))))
		return
	}
	// Recover, in the new process, verifies the databases, removes the
	// journal and records the outcome.
	h.restartAfter(key, nil)
}

// stage extracts the backup into dir and checks its databases there, so a
// broken backup is refused before the app is touched.
func (h *Host) stage(ctx context.Context, storageURL, key, dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("staging dir: %w", err)
	}
	b, err := h.backups(ctx)
	if err != nil {
		return err
	}
	err = b.Extract(ctx, shared.ExtractRequest{StorageURL: storageURL, Key: key, DestDir: dir},
		func(p shared.Progress) { h.ops.progress(p.Done, p.Total) })
	if err != nil {
		return atStage(stageExtract, fmt.Errorf("extract: %w", err))
	}
	// The check runs in a process of its own (see RunChecker).
	start := time.Now()
	pid, err := sqlitesnap.VerifyInChild(ctx, dir, h.checkerLimits(dir))
	if errors.Is(err, sqlitesnap.ErrCheckFailed) {
		return atStage(stageVerify, fmt.Errorf("verify staged databases: %w: %w", shared.ErrInvalid, err))
	}
	if err != nil {
		return atStage(stageVerify, fmt.Errorf("verify staged databases: %w", err))
	}
	h.log.Info("staged databases passed quick_check", "key", key, "checker_pid", pid, "seconds", time.Since(start).Seconds())
	return nil
}

// failRestore records a restore that failed before the app was touched.
func (h *Host) failRestore(key, workDir string, err error) {
	h.log.Error("restore failed; the app keeps its data", "key", key, "error", err)
	if workDir != "" {
		if rmErr := os.RemoveAll(workDir); rmErr != nil {
			h.log.Warn("remove restore staging", "error", rmErr)
		}
	}
	h.finish("Failed to restore backup", err)
}

// finish releases the lock, records the outcome and persists it so that it
// survives a restart.
func (h *Host) finish(stage string, err error) {
	msg := ""
	if err != nil {
		msg = publicError(stage, err)
	}
	run, _ := h.ops.snapshot()
	h.ops.finish(msg)
	if run != nil {
		h.observe(*run, err, msg)
	}
	if _, last := h.ops.snapshot(); last != nil {
		if err := saveOutcome(h.cfg.DataDir, last); err != nil {
			h.log.Error("persist operation outcome", "error", err)
		}
	}
}

// restartAfter records why the process restarts (cause nil: the swap is
// done and the next start verifies it), hands the plugin over and
// restarts. It only returns if the restart failed, and then exits: the data
// directory is settled by Recover at the next start.
func (h *Host) restartAfter(key string, cause error) {
	if cause != nil {
		h.finish("Failed to restore backup", cause)
	}
	if err := h.plugins.handOver(); err != nil {
		h.log.Warn("plugin hand-over failed; the new process starts a fresh plugin", "error", err)
	}
	if h.ctx.Err() != nil {
		// The app is being stopped: do not come back. Whatever the swap
		// reached, the next start settles it from the journal.
		h.log.Info("stopping instead of restarting; the next start completes the restore", "key", key)
		return
	}
	restart := h.cfg.Restart
	if restart == nil {
		restart = ExecSelf
	}
	h.log.Info("restarting", "key", key)
	if err := restart(); err != nil {
		h.log.Error("restart failed; exiting so a supervisor starts the app again", "error", err)
		os.Exit(1)
	}
}
