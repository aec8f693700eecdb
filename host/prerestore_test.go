package host_test

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
)

// TestPreRestoreBackup: with the setting on, a plain restore (the SDKs'
// restore(key), no body) first backs up the current data as
// @pre_restore_<time>.zip, holding what the restore then replaces, and
// keeps only the newest preRestoreMaxKeep of those.
func TestPreRestoreBackup(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC))
	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.Clock = clock })
	dbPath := filepath.Join(re.dataDir, "data.db")
	re.createAndWait("before.zip")
	addNotes(t, dbPath, 7)
	// Two older pre-restore backups, by storage time.
	backups := filepath.Join(re.dataDir, "backups")
	for i, name := range []string{"@pre_restore_20200101000000.zip", "@pre_restore_20210101000000.zip"} {
		if err := os.Link(filepath.Join(backups, "before.zip"), filepath.Join(backups, name)); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Duration(10-i) * time.Hour)
		if err := os.Chtimes(filepath.Join(backups, name), at, at); err != nil {
			t.Fatal(err)
		}
	}
	if status, body := re.patchSettings(`{"backups":{"preRestoreBackup":true,"preRestoreMaxKeep":2}}`); status != 200 ||
		!strings.Contains(body, `"preRestoreBackup":true,"preRestoreMaxKeep":2`) {
		t.Fatal(status, body)
	}
	if status, body, _ := re.do("POST", "/api/backups/before.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if got := countNotes(t, dbPath); got != 50 {
		t.Fatalf("notes after restore = %d, want the backup's 50", got)
	}
	got := strings.Join(next.keys(), " ")
	if want := "@pre_restore_20210101000000.zip @pre_restore_20260504030201.zip before.zip"; got != want {
		t.Fatalf("backups\n got %s\nwant %s", got, want)
	}
	// The pre-restore backup holds the data as it was: 57 notes.
	extracted := t.TempDir()
	unzipTo(t, filepath.Join(backups, "@pre_restore_20260504030201.zip"), extracted)
	if n := countNotes(t, filepath.Join(extracted, "data.db")); n != 57 {
		t.Fatalf("pre-restore backup holds %d notes, want 57", n)
	}
}

// TestPreRestoreBackupFailureStopsRestore: when the pre-restore backup
// fails, nothing is swapped and the outcome says why.
func TestPreRestoreBackupFailureStopsRestore(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC))
	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.Clock = clock })
	re.createAndWait("before.zip")
	// The pre-restore backup's name is taken: its create fails.
	backups := filepath.Join(re.dataDir, "backups")
	if err := os.Link(filepath.Join(backups, "before.zip"), filepath.Join(backups, "@pre_restore_20260504030201.zip")); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"preRestoreBackup":"yes"}`, `{"preRestoreBackup":`} {
		if status, got, _ := re.do("POST", "/api/backups/before.zip/restore", re.superTok, "application/json", strings.NewReader(body)); status != 400 {
			t.Fatalf("bad body %s: %d %s", body, status, got)
		}
	}
	if status, body, _ := re.do("POST", "/api/backups/before.zip/restore", re.superTok, "application/json", strings.NewReader(`{"preRestoreBackup":true}`)); status != 204 {
		t.Fatal(status, body)
	}
	last := re.waitIdle()
	if last["ok"] != false || last["error"] != "Failed to restore backup: the pre-restore backup failed: a backup with that name already exists." {
		t.Fatalf("outcome %v", last)
	}
	if re.shutdowns != 0 {
		t.Fatal("the app was stopped")
	}
	waitEmptyDir(t, filepath.Join(re.dataDir, ".pb_temp_to_delete"))
}

func unzipTo(t *testing.T, zipPath, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("entry %q", f.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, f.UncompressedSize64)
		if _, err := io.ReadFull(rc, data); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
