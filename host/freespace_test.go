package host_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
)

// fakeDisk plays filesystems of chosen free space: paths under a listed
// prefix report that prefix's space; the first matching prefix wins.
type fakeDisk struct {
	mu    sync.Mutex
	rules []diskRule
}

type diskRule struct {
	prefix string
	avail  int64
	dev    uint64
}

func (d *fakeDisk) set(rules ...diskRule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = rules
}

func (d *fakeDisk) space(path string) (int64, uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.rules {
		if strings.HasPrefix(path+"/", r.prefix+"/") {
			return r.avail, r.dev, nil
		}
	}
	return host.StatfsSpace(path)
}

func TestCreateRefusedWithoutSpace(t *testing.T) {
	e := newEnv(t)
	disk := &fakeDisk{}
	host.SetFreeSpace(e.host, disk.space)
	backups := e.dataDir + "/backups"
	// The backups folder on a disk of its own with 1 KiB free: far less
	// than the data (two databases of several pages).
	disk.set(diskRule{prefix: backups, avail: 1024, dev: 1}, diskRule{prefix: e.dataDir, avail: 1 << 40, dev: 2})
	status, body, hdr := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"full.zip"}`))
	assertAPIError(t, "create into a full folder", status, body, hdr, 507)
	if !strings.HasPrefix(body, `{"status":507,"message":"Not enough free space in the backups folder: needs `) || !strings.Contains(body, `iB more."`) {
		t.Fatalf("body %s", body)
	}
	if h := e.health(); h["canBackup"] != true || h["lastOperation"] != nil {
		t.Fatalf("an operation ran: %v", h)
	}
	if keys := e.keys(); len(keys) != 0 {
		t.Fatalf("backups %v", keys)
	}
	// Room enough: the same create runs.
	disk.set(diskRule{prefix: backups, avail: 1 << 40, dev: 1})
	e.createAndWait("full.zip")
}

func TestRestoreRefusedWithoutSpace(t *testing.T) {
	re := newRestoreEnv(t, nil)
	re.createAndWait("b.zip")
	disk := &fakeDisk{}
	host.SetFreeSpace(re.host, disk.space)
	disk.set(diskRule{prefix: re.dataDir, avail: 100, dev: 7})
	status, body, hdr := re.do("POST", "/api/backups/b.zip/restore", re.superTok, "", nil)
	assertAPIError(t, "restore into a full data dir", status, body, hdr, 507)
	if !strings.HasPrefix(body, `{"status":507,"message":"Not enough free space in the data directory: needs `) {
		t.Fatalf("body %s", body)
	}
	// A pre-restore backup needs the data's size in the backups folder too.
	disk.set(diskRule{prefix: re.dataDir + "/backups", avail: 100, dev: 8}, diskRule{prefix: re.dataDir, avail: 1 << 40, dev: 7})
	status, body, hdr = re.do("POST", "/api/backups/b.zip/restore", re.superTok, "application/json", strings.NewReader(`{"preRestoreBackup":true}`))
	assertAPIError(t, "pre-restore backup into a full folder", status, body, hdr, 507)
	if !strings.HasPrefix(body, `{"status":507,"message":"Not enough free space in the backups folder: needs `) {
		t.Fatalf("body %s", body)
	}
	if re.shutdowns != 0 {
		t.Fatal("the app was stopped")
	}
	if h := re.health(); h["canBackup"] != true {
		t.Fatalf("an operation runs: %v", h)
	}
}

func TestStatfsSpaceIsSane(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	availA, devA, err := host.StatfsSpace(a)
	if err != nil {
		t.Fatal(err)
	}
	_, devB, err := host.StatfsSpace(b)
	if err != nil {
		t.Fatal(err)
	}
	if availA <= 0 {
		t.Fatalf("avail %d", availA)
	}
	if devA != devB {
		t.Fatalf("two temp dirs on different filesystems? %d %d", devA, devB)
	}
	availRoot, _, err := host.StatfsSpace("/proc")
	if err == nil && availRoot < 0 {
		t.Fatalf("negative avail %d", availRoot)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		1288490189: "1.2 GiB", 5 << 40: "5.0 TiB",
	} {
		if got := host.FormatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestScheduledBackupWithoutSpace: a scheduled backup that finds too
// little room records why instead of failing half-way.
func TestScheduledBackupWithoutSpace(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 2, 59, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	if status, body := e.patchSettings(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":2}}`); status != 200 {
		t.Fatal(status, body)
	}
	disk := &fakeDisk{}
	host.SetFreeSpace(e.host, disk.space)
	disk.set(diskRule{prefix: e.dataDir + "/backups", avail: 10, dev: 1})
	if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	var last map[string]any
	waitFor(t, "the run's outcome", func() bool {
		last, _ = e.health()["lastOperation"].(map[string]any)
		return last != nil
	})
	if last["ok"] != false || last["error"] != "Failed to create the scheduled backup: not enough free space." {
		t.Fatalf("outcome %v", last)
	}
	if keys := e.keys(); len(keys) != 0 {
		t.Fatalf("backups %v", keys)
	}
}
