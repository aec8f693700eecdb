package host_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
)

// TestDrills: backups.verify schedules __pbVerifyBackup__ (the newest
// backup, in its mode) and verifies each scheduled backup right after it
// is made; outcomes show in the list and in health. Invalid values are the
// contract's 400 with the field; without the section the settings look as
// PocketBase's.
func TestDrills(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 2, 59, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	runScenarios(t, e, []scenario{
		{name: "no verify section by default", method: "GET", path: "/api/settings", token: "super", wantStatus: 200,
			wantBody: `{"backups":{"cron":"","cronMaxKeep":3,"s3":{"enabled":false,"bucket":"","region":"","endpoint":"","accessKey":"","secret":"","forcePathStyle":false}}}`},
		{name: "bad mode and cron", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json",
			body: jsonBody(`{"backups":{"verify":{"cron":"nope","mode":"thorough"}}}`), wantStatus: 400,
			contains: []string{`"verify":{`, `"mode":{"code":"validation_in_invalid"`, `"cron":{"code":"validation_invalid_cron"`}},
		{name: "refused patch changed nothing", method: "GET", path: "/api/settings", token: "super", wantStatus: 200,
			wantBody: `{"backups":{"cron":"","cronMaxKeep":3,"s3":{"enabled":false,"bucket":"","region":"","endpoint":"","accessKey":"","secret":"","forcePathStyle":false}}}`},
		{name: "set drills", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json",
			body: jsonBody(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":5,"verify":{"cron":"0 4 * * *","afterCreate":true}}}`), wantStatus: 200,
			contains: []string{`"verify":{"cron":"0 4 * * *","mode":"","afterCreate":true}`}},
		{name: "both jobs listed", method: "GET", path: "/api/crons", token: "super", wantStatus: 200,
			contains: []string{`{"id":"__pbAutoBackup__","expression":"0 3 * * *","next":`, `{"id":"__pbVerifyBackup__","expression":"0 4 * * *","next":`}},
	})

	// afterCreate: the scheduled backup is verified (deep, the default) once made.
	if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	auto := "@auto_pb_backup_20260301025900.zip"
	waitFor(t, "the verify after create", func() bool {
		h := e.health()
		last, _ := h["lastOperation"].(map[string]any)
		return last["kind"] == "verify" && last["key"] == auto && h["canBackup"] == true
	})
	last, _ := e.health()["lastOperation"].(map[string]any)
	if v, _ := last["verify"].(map[string]any); last["ok"] != true || v["mode"] != "deep" {
		t.Fatalf("verify after create: %v", last)
	}
	if item := e.listed(auto); item["verify"] != "ok" {
		t.Fatalf("listed: %v", item)
	}

	// The scheduled verification takes the newest backup, and a failure
	// shows in health and in the list.
	clock.Advance(2 * time.Second)
	e.createBackup("newest.zip")
	up, upType := multipartBody("file", "broken.zip", zipOf(t, map[string]string{"data.db": "this is not sqlite"}))
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, strings.NewReader(string(up(t)))); status != 204 {
		t.Fatal(status, body)
	}
	if status, body, _ := e.do("POST", "/api/crons/__pbVerifyBackup__", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	waitFor(t, "the scheduled verify", func() bool {
		h := e.health()
		last, _ := h["lastOperation"].(map[string]any)
		return last["kind"] == "verify" && last["key"] != auto && h["canBackup"] == true
	})
	last, _ = e.health()["lastOperation"].(map[string]any)
	if last["key"] != "broken.zip" || last["ok"] != false || !strings.Contains(last["error"].(string), "data.db") {
		t.Fatalf("scheduled verify of the newest backup: %v", last)
	}
	if item := e.listed("broken.zip"); item["verify"] == "ok" || item["verify"] == nil {
		t.Fatalf("listed: %v", item)
	}
}
