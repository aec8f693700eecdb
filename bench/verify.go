package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// measureVerify verifies the created backup through the host, quick then
// deep, timed by the plugin's "backup verified" line. The quick rate is
// kept to set beside the restore's staging (the same archive read once).
func (b *bench) measureVerify(ctx context.Context) error {
	stored := int64(0)
	if fi, err := os.Stat(b.zipPath); err == nil {
		stored = fi.Size()
	}
	for _, mode := range []string{"quick", "deep"} {
		b.progress("verify: %s", mode)
		settle()
		mark := b.h.log.mark()
		b.rss.setPhase(phaseVerify)
		lw := b.startLoad("verify " + mode)
		start := time.Now()
		if _, err := b.h.call(ctx, "POST", "/api/backups/"+backupKey+"/verify", map[string]string{"mode": mode}, nil); err != nil {
			b.stopLoad(lw)
			return fmt.Errorf("verify %s: %w", mode, err)
		}
		out, err := b.waitOperation(ctx, "verify", start)
		total := time.Since(start)
		b.stopLoad(lw)
		b.rss.setPhase(phaseIdle)
		if err != nil {
			return err
		}
		if !out.OK {
			return fmt.Errorf("verify %s failed: %s (log: %s)", mode, out.Error, b.h.log.path())
		}
		secs, ok := 0.0, false
		if l, found := b.h.log.find(mark, "backup verified", backupKey, "mode="+mode); found {
			secs, ok = logFloat(l.text, "seconds")
		}
		if !ok || secs <= 0 {
			secs = total.Seconds()
		}
		if mode == "quick" {
			b.verifyQuickRate = mib(b.zip.Uncompressed) / secs
			b.rep.add(infoRow("verify.quick", "Quick verify (read once, digest, every CRC-32)",
				fmt.Sprintf("%.0f MiB/s stored, %.0f MiB/s uncompressed", mib(stored)/secs, b.verifyQuickRate), ""))
		}
		b.rep.add(infoRow("verify."+mode+".seconds", "Verify "+mode+": POST → outcome in /api/health", fmt.Sprintf("%.1f s", total.Seconds()), ""))
	}
	b.rep.note("verify: the plugin's \"backup verified\" line times the read, digest and CRC checks (deep: and extraction); the deep total adds the host's integrity_check in its checker process")
	return nil
}

// waitOperation waits until the last operation is of kind and finished
// after start.
func (b *bench) waitOperation(ctx context.Context, kind string, start time.Time) (operation, error) {
	deadline := start.Add(b.timeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return operation{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		hl, err := b.h.health(ctx)
		if err != nil || !hl.CanBackup {
			continue
		}
		if last := hl.LastOperation; last != nil && last.Kind == kind && last.Key == backupKey {
			return *last, nil
		}
	}
	return operation{}, fmt.Errorf("%s did not finish within %v (log: %s)", kind, b.timeout, b.h.log.path())
}

// noteHashRate notes how long this machine takes to hash the backup's
// bytes, beside the create's time: what the digest would cost if it did
// not overlap anything (the plugin hashes on a goroutine of its own while
// it compresses and writes; measureDigestCost measures what it costs).
func (b *bench) noteHashRate(storedBytes, createSecs float64) {
	buf := make([]byte, 1<<20)
	h := sha256.New()
	start := time.Now()
	for n := 0.0; n < storedBytes; n += float64(len(buf)) {
		h.Write(buf)
	}
	hashSecs := time.Since(start).Seconds()
	b.rep.note("create digest: hashing %s took %.3f s on this machine (%.0f MiB/s), against the create's %.2f s",
		formatSize(int64(storedBytes)), hashSecs, storedBytes/(1<<20)/max(hashSecs, 1e-9), createSecs)
}
