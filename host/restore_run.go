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
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/internal/filestamp"
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

// runRestore stages the backup, backs up the current data first when
// preBackup is set, stops the app, swaps the data in and restarts the
// process. Failures before the swap leave the app running on its old data
// and are reported in /api/health.
func (h *Host) runRestore(storageURL, key string, preBackup bool) {
	start := time.Now()
	workDir, err := os.MkdirTemp(filepath.Join(h.cfg.DataDir, tempDirName), "restore-")
	var checked []filestamp.Stamp
	if err == nil {
		checked, err = h.stage(h.ctx, storageURL, key, filepath.Join(workDir, "staged"))
	}
	if err != nil {
		h.failRestore(key, workDir, err)
		return
	}
	if preBackup {
		if err := h.preRestoreBackup(h.ctx, storageURL); err != nil {
			h.failRestoreAt("Failed to restore backup: the pre-restore backup failed", key, workDir, err)
			return
		}
	}
	h.log.Info("restore staged; stopping the app to swap the data in", "key", key, "seconds", time.Since(start).Seconds())
	if err := h.cfg.Shutdown(h.ctx); err != nil {
		// The app may be half down: restart on the old data.
		h.log.Error("app shutdown for restore failed; restarting on the old data", "error", err)
		h.restartAfter(key, atStage(stageShutdown, errors.Join(errors.New("app shutdown failed"), err)))
		return
	}
	j, err := restore.PrepareChecked(stateDir(h.cfg.DataDir), h.cfg.DataDir, filepath.Join(workDir, "staged"), filepath.Join(workDir, "old"), key, restoreKeep(h.cfg.Exclude), checked)
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
// broken backup is refused before the app is touched. The check starts as
// soon as the plugin says the files at the archive's root (the databases)
// are written, while it extracts the rest; with a plugin that does not
// say, once everything is. It returns the stamps of the files checked (nil
// if they could not be taken), which let the next start skip checking
// them again (see Recover).
func (h *Host) stage(ctx context.Context, storageURL, key, dir string) ([]filestamp.Stamp, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("staging dir: %w", err)
	}
	b, err := h.backups(ctx)
	if err != nil {
		return nil, err
	}
	checkCtx, cancelCheck := context.WithCancel(ctx)
	defer cancelCheck()
	var (
		startOnce    sync.Once
		started      bool
		checkResults = make(chan stagedCheck, 1)
	)
	// startCheck is called on the plugin's event while Extract runs, or
	// after it; the once orders started with the reads below.
	startCheck := func(duringExtraction bool) {
		startOnce.Do(func() {
			started = true
			if h.stagedCheckStarted != nil {
				h.stagedCheckStarted(duringExtraction)
			}
			go func() { checkResults <- h.checkStaged(checkCtx, dir) }()
		})
	}
	err = b.Extract(ctx, shared.ExtractRequest{StorageURL: storageURL, Key: key, DestDir: dir,
		RootFilesExtracted: func() { startCheck(true) }},
		func(p shared.Progress) { h.ops.progress(p.Done, p.Total) })
	extractedAt := time.Now()
	if err != nil {
		cancelCheck()
		startOnce.Do(func() {}) // no check starts any more
		if started {
			<-checkResults
		}
		return nil, atStage(stageExtract, fmt.Errorf("extract: %w", err))
	}
	startCheck(false)
	res := <-checkResults
	if errors.Is(res.err, sqlitesnap.ErrCheckFailed) {
		return nil, atStage(stageVerify, fmt.Errorf("verify staged databases: %w: %w", shared.ErrInvalid, res.err))
	}
	if res.err != nil {
		return nil, atStage(stageVerify, fmt.Errorf("verify staged databases: %w", res.err))
	}
	// The check may have changed files (a WAL checkpointed and removed at
	// close): what no longer matches its first stamp is stamped again, so
	// the stamps are of the bytes the check passed.
	checked, err := sqlitesnap.Stamp(dir, res.first)
	if err != nil {
		h.log.Warn("stamping the checked databases failed; the next start checks them again", "key", key, "error", err)
		checked = nil
	}
	h.log.Info("staged databases passed quick_check", "key", key, "checker_pid", res.pid, "stamped", len(checked),
		"seconds", res.seconds, "waited_after_extraction_seconds", time.Since(extractedAt).Seconds())
	return checked, nil
}

// stagedCheck is the outcome of checkStaged.
type stagedCheck struct {
	pid     int
	first   []filestamp.Stamp // the top-level files' stamps, taken beside the check
	seconds float64
	err     error
}

// checkStaged checks the databases at the top of dir in a process of its
// own (see RunChecker) and stamps the files meanwhile, on another core.
func (h *Host) checkStaged(ctx context.Context, dir string) stagedCheck {
	start := time.Now()
	stamped := make(chan []filestamp.Stamp, 1)
	go func() {
		first, _ := sqlitesnap.Stamp(dir, nil) // a file the check changed meanwhile is stamped again after it
		stamped <- first
	}()
	pid, err := sqlitesnap.VerifyInChild(ctx, dir, h.checkerLimits(dir))
	return stagedCheck{pid: pid, first: <-stamped, seconds: time.Since(start).Seconds(), err: err}
}

// failRestore records a restore that failed before the app was touched.
func (h *Host) failRestore(key, workDir string, err error) {
	h.failRestoreAt("Failed to restore backup", key, workDir, err)
}

// failRestoreAt is failRestore with the outcome's stage named.
func (h *Host) failRestoreAt(stage, key, workDir string, err error) {
	h.log.Error("restore failed; the app keeps its data", "key", key, "error", err)
	if workDir != "" {
		if rmErr := os.RemoveAll(workDir); rmErr != nil {
			h.log.Warn("remove restore staging", "error", rmErr)
		}
	}
	h.finish(stage, err)
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
// restarts. It only returns if the app is being stopped or the restart
// failed; that is told to Config.RestartFailed, and the data directory is
// settled by Recover at the next start.
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
	// The next process takes the data directory's lock again (an exec
	// drops it anyway).
	h.unlock()
	if err := restart(); err != nil {
		h.log.Error("restart failed; the app must be started again", "error", err)
		if h.cfg.RestartFailed != nil {
			h.cfg.RestartFailed(err)
		}
	}
}
