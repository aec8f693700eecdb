package host_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
)

// ageBackup sets a local backup's modification time, the time rotation
// orders by.
func (e *env) ageBackup(key string, at time.Time) {
	e.t.Helper()
	if err := os.Chtimes(filepath.Join(e.dataDir, "backups", key), at, at); err != nil {
		e.t.Fatal(err)
	}
}

func TestRetentionSettings(t *testing.T) {
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{} })
	if status, body := e.patchSettings(`{"backups":{"retention":{"keepLast":1,"keepDaily":-1,"keepMonthly":-2}}}`); status != 400 ||
		!strings.Contains(body, `"retention":{"keepDaily":{"code":"validation_min_greater_equal_than_required"`) ||
		!strings.Contains(body, `"keepMonthly":{"code":"validation_min_greater_equal_than_required"`) {
		t.Fatalf("negative counts: %d %s", status, body)
	}
	if status, body := e.patchSettings(`{"backups":{"retention":{"keepDaily":7,"keepWeekly":4}}}`); status != 200 ||
		!strings.Contains(body, `"retention":{"keepLast":0,"keepDaily":7,"keepWeekly":4,"keepMonthly":0}`) {
		t.Fatalf("set: %d %s", status, body)
	}
	// A refused patch changes nothing, also through the pointer.
	if status, _ := e.patchSettings(`{"backups":{"retention":{"keepDaily":-5}}}`); status != 400 {
		t.Fatal(status)
	}
	if _, body, _ := e.do("GET", "/api/settings", e.superTok, "", nil); !strings.Contains(body, `"keepDaily":7`) {
		t.Fatalf("after a refused patch: %s", body)
	}
	// null clears it: cronMaxKeep's rule again, and the field is gone.
	if status, body := e.patchSettings(`{"backups":{"retention":null}}`); status != 200 || strings.Contains(body, "retention") {
		t.Fatalf("clear: %d %s", status, body)
	}
}

// TestRetentionRotates: with a retention rule the scheduled job keeps the
// newest backup of each of the last keepDaily days (by storage time, UTC),
// never a pinned one's slot, and never deletes a pinned one.
func TestRetentionRotates(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 2, 59, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	if status, body := e.patchSettings(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":10}}`); status != 200 {
		t.Fatal(status, body)
	}
	e.runAutoBackups(clock, 4)
	now := time.Now()
	day := func(d int, h int) time.Time {
		return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
	}
	e.ageBackup("@auto_pb_backup_20260301025900.zip", day(-5, 1)) // pinned below: survives
	e.ageBackup("@auto_pb_backup_20260301025901.zip", day(-3, 1))
	e.ageBackup("@auto_pb_backup_20260301025902.zip", day(-2, 1))
	e.ageBackup("@auto_pb_backup_20260301025903.zip", day(-2, 5))
	if status, body, _ := e.do("PATCH", "/api/backups/@auto_pb_backup_20260301025900.zip", e.superTok, "application/json", strings.NewReader(`{"pinned":true}`)); status != 200 {
		t.Fatal(status, body)
	}
	if status, body := e.patchSettings(`{"backups":{"retention":{"keepDaily":2}}}`); status != 200 {
		t.Fatal(status, body)
	}
	// What the next rotation would delete, before it runs.
	status, body, _ := e.do("GET", "/api/backups/retention-preview", e.superTok, "", nil)
	if status != 200 {
		t.Fatal(status, body)
	}
	var preview struct {
		Rule struct {
			CronMaxKeep int
			Retention   map[string]int
		}
		Keep, Delete []struct {
			Key    string
			Pinned bool
		}
	}
	if err := json.Unmarshal([]byte(body), &preview); err != nil {
		t.Fatal(err)
	}
	// Now: days -2 (its newest) and -3 are the last two days; the pinned
	// one is kept outside the rule.
	if preview.Rule.Retention["keepDaily"] != 2 || len(preview.Delete) != 1 || preview.Delete[0].Key != "@auto_pb_backup_20260301025902.zip" ||
		len(preview.Keep) != 3 || !preview.Keep[2].Pinned {
		t.Fatalf("preview %s", body)
	}
	// The next run adds today: today's and the newest of day -2 stay, and the pinned one.
	clock.Advance(time.Second)
	e.runAutoBackupsFrom(clock, "@auto_pb_backup_20260301025905.zip")
	got := strings.Join(e.keys(), " ")
	want := "@auto_pb_backup_20260301025900.zip @auto_pb_backup_20260301025903.zip @auto_pb_backup_20260301025905.zip"
	if got != want {
		t.Fatalf("after rotation\n got %s\nwant %s", got, want)
	}
}

// runAutoBackupsFrom runs the scheduled job once, to its end, expecting key.
func (e *env) runAutoBackupsFrom(clock *cron.FakeClock, key string) {
	e.t.Helper()
	if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
		e.t.Fatal(status, body)
	}
	waitFor(e.t, key, func() bool {
		h := e.health()
		last, _ := h["lastOperation"].(map[string]any)
		return last["key"] == key && last["ok"] == true && h["canBackup"] == true
	})
	waitFor(e.t, "the run to return", func() bool { return !host.CronRunning(e.host, host.AutoBackupJob) })
}

func TestRetentionPreviewRoute(t *testing.T) {
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{} })
	const path = "/api/backups/retention-preview"
	empty := `{"rule":{"cronMaxKeep":3,"retention":null},"keep":[],"delete":[]}`
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "GET", path: path, wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "wrong auth", method: "GET", path: path, token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "GET", path: path, token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "file token as auth", method: "GET", path: path + "?token={superFile}", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "superuser", method: "GET", path: path, token: "super", wantStatus: 200, wantBody: empty},
		{name: "a rule before saving", method: "GET", path: path + "?keepDaily=7&keepMonthly=12", token: "super", wantStatus: 200,
			wantBody: `{"rule":{"cronMaxKeep":3,"retention":{"keepLast":0,"keepDaily":7,"keepWeekly":0,"keepMonthly":12}},"keep":[],"delete":[]}`},
		{name: "cronMaxKeep before saving", method: "GET", path: path + "?cronMaxKeep=9", token: "super", wantStatus: 200,
			wantBody: `{"rule":{"cronMaxKeep":9,"retention":null},"keep":[],"delete":[]}`},
		{name: "bad numbers", method: "GET", path: path + "?keepDaily=-1&keepLast=x", token: "super", wantStatus: 400,
			contains: []string{`"status":400`, `"keepDaily":{"code":"validation_invalid_number"`, `"keepLast":{"code":"validation_invalid_number"`}},
	})
}
