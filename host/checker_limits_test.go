package host_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// TestRestoreRefusedWhenCheckerOverLimit: a restore whose database checker
// is stopped by its bounds (here a time limit no checker can meet) is
// refused with a message that says so; the app is never stopped, keeps its
// data and goes on answering.
func TestRestoreRefusedWhenCheckerOverLimit(t *testing.T) {
	var shutdowns, restarts atomic.Int32
	e := newEnvWith(t, func(cfg *host.Config) {
		cfg.Shutdown = func(context.Context) error { shutdowns.Add(1); return nil }
		cfg.Restart = func() error { restarts.Add(1); return nil }
		cfg.CheckTimeout = time.Millisecond
	})
	e.createAndWait("good.zip")
	if status, body, _ := e.do("POST", "/api/backups/good.zip/restore", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	last := e.waitIdle()
	const want = "Failed to restore backup: checking the restored databases went over its time or memory limit; the data was not changed."
	if last["ok"] != false || last["kind"] != "restore" || last["error"] != want {
		t.Fatalf("lastOperation = %v, want the error %q", last, want)
	}
	if shutdowns.Load() != 0 || restarts.Load() != 0 {
		t.Fatalf("the app was stopped (%d) or restarted (%d)", shutdowns.Load(), restarts.Load())
	}
	if got := countNotes(t, filepath.Join(e.dataDir, "data.db")); got != 50 {
		t.Fatalf("notes = %d, want the untouched 50", got)
	}
	if left, _ := os.ReadDir(filepath.Join(e.dataDir, ".pb_temp_to_delete")); len(left) != 0 {
		t.Fatalf("staging left behind: %d entries", len(left))
	}
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 {
		t.Fatalf("the app no longer answers: %d %s", status, body)
	}
}
