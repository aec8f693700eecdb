package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// downtimeLimit is the most a restore may keep the app from answering, at
// any size: the databases were checked while staged, so what remains is
// the swap and the restart.
const downtimeLimit = 300 * time.Millisecond

// measureRestore runs the stdlib staging baseline, then restores the
// backup through the host: staging (the plugin's fetch + extract), the
// swap and the re-exec, timed from the logs and from /api/health.
func (b *bench) measureRestore(ctx context.Context) error {
	b.progress("restore: stdlib baseline (copy + archive/zip extraction, one goroutine)")
	work := filepath.Join(b.root, "baseline-restore")
	if err := os.Mkdir(work, 0o755); err != nil {
		return err
	}
	settle()
	lw := b.startLoad("baseline restore")
	base, err := baselineExtract(b.zipPath, work)
	b.stopLoad(lw)
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err != nil {
		return fmt.Errorf("baseline restore: %w", err)
	}
	settle()

	b.progress("restore: ours")
	poll := startUpPoller(ctx, b.h.url, 10*time.Millisecond)
	mark := b.h.log.mark()
	b.rss.setPhase(phaseRestore)
	lw = b.startLoad("restore")
	start := time.Now()
	if _, err := b.h.call(ctx, "POST", "/api/backups/"+backupKey+"/restore", nil, nil); err != nil {
		poll.finish()
		return err
	}
	out, err := b.waitRestored(ctx, start)
	total := time.Since(start)
	b.stopLoad(lw)
	b.rss.setPhase(phaseIdle)
	down, downOK := poll.finish()
	if err != nil {
		return err
	}
	if !out.OK {
		return fmt.Errorf("restore failed: %s (log: %s)", out.Error, b.h.log.path())
	}

	stagedSecs, stagedOK := 0.0, false
	if l, ok := b.h.log.find(mark, "restore staged", backupKey); ok {
		stagedSecs, stagedOK = logFloat(l.text, "seconds")
	}
	stageSecs, ok := 0.0, false
	if l, found := b.h.log.find(mark, "backup extracted", backupKey); found {
		stageSecs, ok = logFloat(l.text, "seconds")
	}
	if !ok {
		if !stagedOK {
			return fmt.Errorf("restore: no \"backup extracted\" or \"restore staged\" log line (log: %s)", b.h.log.path())
		}
		stageSecs = stagedSecs
		b.rep.note("restore staging: no \"backup extracted\" line from the plugin; timed by the host's \"restore staged\" line (includes quick_check)")
	}
	uncompressed := b.zip.Uncompressed
	b.rep.add(ratioRow("restore.staging", "Restore staging (fetch + extract)", mib(uncompressed)/stageSecs, mibps(base.Bytes, base.Took), "MiB/s", 2))
	if b.verifyQuickRate > 0 {
		b.rep.add(ratioRow("verify.quick.vs.staging", "Quick verify read vs restore staging (same archive)", b.verifyQuickRate, mib(uncompressed)/stageSecs, "MiB/s", 1))
	}
	b.rep.add(infoRow("restore.staging.seconds", "Restore staging time", fmt.Sprintf("%.1f s", stageSecs), fmt.Sprintf("%.1f s", base.Took.Seconds())))
	staged := "?"
	if stagedOK {
		staged = fmt.Sprintf("%.1f s", stagedSecs)
	}
	b.rep.add(infoRow("restore.staged", "Restore staged incl. quick_check", staged, ""))
	if downOK {
		b.rep.add(atMostRow("restore.downtime", "Restore downtime (longest time without an answer)", down.Seconds(), "s", downtimeLimit.Seconds()))
	} else {
		b.rep.add(infoRow("restore.downtime", "Restore downtime (longest time without an answer)", "no answer at the end", ""))
	}
	b.rep.add(infoRow("restore.total", "Restore POST → outcome in /api/health", fmt.Sprintf("%.1f s", total.Seconds()), ""))
	b.rep.note("restore staging: ours from the plugin's \"backup extracted\" line (fetch from storage into a temp file + extraction, files fsynced); MiB/s of uncompressed bytes (%s). Baseline: copy through a 32 KiB buffer (%.2f s) + stdlib archive/zip extraction, one goroutine, each file fsynced like ours (the fsyncs took %.2f s; PocketBase skips them).",
		formatSize(uncompressed), base.FetchTook.Seconds(), base.SyncTook.Seconds())
	b.rep.note("restore downtime: the longest time between two consecutive 200 answers of GET /api/health, polled every 10 ms from the POST to the outcome: refused connections, or a request held while the listening socket passes to the re-executed process")

	// The app now serves the backup's data: the writer's rows in the
	// snapshot, no more.
	var list struct {
		TotalItems int `json:"totalItems"`
	}
	_, err = b.h.call(ctx, "GET", "/api/collections/notes/records?perPage=1", nil, &list)
	if err != nil {
		return err
	}
	b.ours.RestoreSecs = time.Since(start).Seconds()
	b.ours.DownSecs, b.ours.DownOK = down.Seconds(), downOK
	b.rep.add(checkRow("restore.data", "Restore: app serves the backup's rows", list.TotalItems == b.snapRows,
		fmt.Sprintf("%d notes", list.TotalItems), fmt.Sprintf("%d notes", b.snapRows)))
	return nil
}

// waitRestored waits for the re-executed host to report the restore,
// logging in again (the restored data has its own tokens).
func (b *bench) waitRestored(ctx context.Context, start time.Time) (operation, error) {
	deadline := start.Add(b.timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.h.done:
			return operation{}, fmt.Errorf("testhost exited during the restore: %v (log: %s)", b.h.err, b.h.log.path())
		case <-ctx.Done():
			return operation{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		hl, err := b.h.health(ctx)
		if err != nil {
			continue
		}
		if hl.LastOperation == nil && b.h.login(ctx) == nil {
			hl, err = b.h.health(ctx)
			if err != nil {
				continue
			}
		}
		if last := hl.LastOperation; last != nil && last.Kind == "restore" && last.Key == backupKey && hl.CanBackup {
			return *last, nil
		}
	}
	return operation{}, fmt.Errorf("restore did not finish within %v (log: %s)", b.timeout, b.h.log.path())
}
