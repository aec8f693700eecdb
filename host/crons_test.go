package host_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
)

func (e *env) keys() []string {
	e.t.Helper()
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 {
		e.t.Fatal(status, body)
	}
	var list []struct{ Key string }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, b := range list {
		keys = append(keys, b.Key)
	}
	sort.Strings(keys)
	return keys
}

// waitFor polls cond (no sleeping on the fake clock: real time, short).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// runAutoBackups runs the scheduled backup job n times through the API,
// one second apart on clock (which starts at 02:59:00), each to its end.
func (e *env) runAutoBackups(clock *cron.FakeClock, n int) {
	e.t.Helper()
	for i := range n {
		if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
			e.t.Fatalf("run %d: %d %s", i, status, body)
		}
		want := fmt.Sprintf("@auto_pb_backup_202603010259%02d.zip", i)
		waitFor(e.t, want, func() bool {
			h := e.health()
			last, _ := h["lastOperation"].(map[string]any)
			return last["key"] == want && last["ok"] == true && h["canBackup"] == true
		})
		// The outcome is visible just before the job returns; a scheduled
		// minute reached before then would be skipped as still running.
		waitFor(e.t, "the run to return", func() bool { return !host.CronRunning(e.host, host.AutoBackupJob) })
		clock.Advance(time.Second)
	}
}

func TestCronsRunAndRotate(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 2, 59, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	runScenarios(t, e, []scenario{
		{name: "list no auth", method: "GET", path: "/api/crons", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "list non-superuser", method: "GET", path: "/api/crons", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "list empty", method: "GET", path: "/api/crons", token: "super", wantStatus: 200, wantBody: `[]`},
		{name: "run no auth", method: "POST", path: "/api/crons/__pbAutoBackup__", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "run non-superuser", method: "POST", path: "/api/crons/__pbAutoBackup__", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "run unknown", method: "POST", path: "/api/crons/nope", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "set schedule", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":2}}`), wantStatus: 200}, // Beyond PocketBase: each job's next run, for the backups page.
		{name: "list shows the next run", method: "GET", path: "/api/crons", token: "super", wantStatus: 200,
			wantBody: `[{"id":"__pbAutoBackup__","expression":"0 3 * * *","next":"2026-03-01 03:00:00.000Z"}]`},
	})
	e.createAndWait("manual_keep.zip")

	// Three runs, one second apart: two auto backups remain, the manual one stays.
	e.runAutoBackups(clock, 3)
	keys := e.keys()
	if len(keys) != 3 || keys[0] != "@auto_pb_backup_20260301025901.zip" || keys[1] != "@auto_pb_backup_20260301025902.zip" || keys[2] != "manual_keep.zip" {
		t.Fatalf("after three runs with keep 2: %v", keys)
	}
	// @ keys work for download and delete (%40 in the URL).
	if data := e.download("%40auto_pb_backup_20260301025902.zip"); len(data) == 0 {
		t.Fatal("empty download")
	}

	// The schedule fires at 03:00 UTC on the fake clock.
	clock.Advance(time.Minute)
	waitFor(t, "the scheduled run", func() bool {
		for _, k := range e.keys() {
			if strings.HasPrefix(k, "@auto_pb_backup_202603010300") {
				return e.health()["canBackup"] == true
			}
		}
		return false
	})
	// Clearing the schedule removes the job.
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(`{"backups":{"cron":""}}`)); status != 200 {
		t.Fatal(status, body)
	}
	if status, body, _ := e.do("GET", "/api/crons", e.superTok, "", nil); status != 200 || body != "[]\n" {
		t.Fatalf("crons after clearing: %d %s", status, body)
	}
}

// TestScheduledRunWaitsForOperation: a run that finds a create running
// waits and retries instead of being lost.
func TestScheduledRunWaitsForOperation(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(`{"backups":{"cron":"@daily","cronMaxKeep":3}}`)); status != 200 {
		t.Fatal(status, body)
	}
	release, reached := make(chan struct{}), make(chan struct{})
	host.SetBeforeArchive(e.host, func() { close(reached); <-release })
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"long.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	<-reached
	host.SetBeforeArchive(e.host, nil)
	if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	// The run is now waiting on the clock for its retry.
	if err := clock.BlockUntil(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	close(release)
	e.waitIdle()
	clock.Advance(10 * time.Second)
	waitFor(t, "the retried auto backup", func() bool {
		for _, k := range e.keys() {
			if strings.HasPrefix(k, "@auto_pb_backup_") {
				return e.health()["canBackup"] == true
			}
		}
		return false
	})
}

// TestRotationIgnoresNames: rotation orders the @auto_pb_backup_ files by
// when the storage stored them, not by their names: an upload named to sort
// last for ever is rotated out once keep newer scheduled backups exist.
func TestRotationIgnoresNames(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 2, 59, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":2}}`)); status != 200 {
		t.Fatal(status, body)
	}
	const hostile = "@auto_pb_backup_99999999999999.zip"
	up, upType := multipartBody("file", hostile, zipOf(t, map[string]string{"data.db": "uploaded"}))
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatalf("upload %s: %d %s", hostile, status, body)
	}
	e.runAutoBackups(clock, 3)
	want := []string{"@auto_pb_backup_20260301025901.zip", "@auto_pb_backup_20260301025902.zip"}
	if keys := e.keys(); !slices.Equal(keys, want) {
		t.Fatalf("after an upload named %s and three runs with keep 2: %q, want %q", hostile, keys, want)
	}
}
