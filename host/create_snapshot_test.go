package host_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// TestCreateFailsWhenFrozenDatabaseChanges: a frozen database file found
// changed once the archive is stored fails the create, and the backup,
// which may hold a torn copy, is deleted.
func TestCreateFailsWhenFrozenDatabaseChanges(t *testing.T) {
	e := newEnv(t)
	host.SetBeforeArchive(e.host, func() {
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(filepath.Join(e.dataDir, "data.db"), later, later); err != nil {
			t.Error(err)
		}
	})
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"torn.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	last := e.waitIdle()
	if msg, _ := last["error"].(string); last["ok"] != false || !strings.HasPrefix(msg, "Failed to create backup") {
		t.Fatalf("last = %v", last)
	}
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 || body != "[]\n" {
		t.Fatalf("after a torn create: %d %s", status, body)
	}
	host.SetBeforeArchive(e.host, nil)
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"next.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		t.Fatalf("next create: %v", last)
	}
}
