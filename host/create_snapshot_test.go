package host_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestCreateReleasesDatabasesEarly: the real plugin says when it has read
// the frozen databases, and the host lets them go then, before the archive
// is stored (with a slow S3 upload, long before).
func TestCreateReleasesDatabasesEarly(t *testing.T) {
	logs := &lockedLog{t: t}
	e := newEnvWith(t, func(c *host.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"early.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		t.Fatalf("create: %v", last)
	}
	out := logs.String()
	released := strings.Index(out, "databases read by the archive; released")
	stored := strings.Index(out, "backup stored")
	if released < 0 || stored < 0 || released > stored {
		t.Fatalf("want the early release logged before \"backup stored\"; log:\n%s", out)
	}
}

// lockedLog collects log output (and echoes it to the test log).
type lockedLog struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
