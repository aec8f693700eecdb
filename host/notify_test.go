package host_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/cron"
	"github.com/pocketbackup/pocketbackup/host/notify"
)

// hookReceiver is a real webhook receiver on loopback; status is what it
// answers.
type hookReceiver struct {
	srv    *httptest.Server
	status int
	events chan hookEvent
}

type hookEvent struct {
	notify.Event
	signature string
	body      []byte
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	t.Helper()
	hr := &hookReceiver{status: status, events: make(chan hookEvent, 100)}
	hr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev hookEvent
		if err := json.Unmarshal(body, &ev.Event); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		ev.signature, ev.body = r.Header.Get(notify.HeaderSignature), body
		w.WriteHeader(hr.status)
		_, _ = io.WriteString(w, "hook answer "+http.StatusText(hr.status))
		hr.events <- ev
	}))
	t.Cleanup(hr.srv.Close)
	return hr
}

// next waits for the next event.
func (hr *hookReceiver) next(t *testing.T) hookEvent {
	t.Helper()
	select {
	case ev := <-hr.events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook event within 30s")
		return hookEvent{}
	}
}

func TestNotifyRoutes(t *testing.T) {
	e := newEnv(t)
	ok := newHookReceiver(t, 200)
	failing := newHookReceiver(t, 500)
	withHook := func(url string) func(*testing.T) []byte {
		return func(*testing.T) []byte {
			return []byte(`{"backups":{"notify":{"webhooks":[{"url":"` + url + `","secret":"s3cret-hook"}]}}}`)
		}
	}
	runScenarios(t, e, []scenario{
		{name: "test no auth", method: "POST", path: "/api/settings/test/notify", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "test wrong auth", method: "POST", path: "/api/settings/test/notify", token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "test user", method: "POST", path: "/api/settings/test/notify", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "test superuser, nothing configured", method: "POST", path: "/api/settings/test/notify", token: "super", wantStatus: 400,
			wantBody: `{"status":400,"message":"No notification channel is configured.","data":{}}`},
		{name: "test superuser, receiver takes it", method: "POST", path: "/api/settings/test/notify", token: "super",
			contentType: "application/json", body: withHook(ok.srv.URL + "/path-token"), wantStatus: 200,
			contains: []string{`"ok":true`, `"status":200`, `hook answer OK`, `"channel":"webhook"`}},
		{name: "test superuser, receiver fails", method: "POST", path: "/api/settings/test/notify", token: "super",
			contentType: "application/json", body: withHook(failing.srv.URL), wantStatus: 400,
			contains: []string{`"message":"Failed to deliver the test notification."`, `"ok":false`, `"status":500`, `hook answer Internal Server Error`}},
		{name: "test superuser, invalid url", method: "POST", path: "/api/settings/test/notify", token: "super",
			contentType: "application/json", body: withHook("ftp://x"), wantStatus: 400,
			contains: []string{`"webhooks":{"0":{"url":{"code":"validation_is_url"`}},
		{name: "log no auth", method: "GET", path: "/api/settings/notify/log", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "log wrong auth", method: "GET", path: "/api/settings/notify/log", token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "log user", method: "GET", path: "/api/settings/notify/log", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "log superuser", method: "GET", path: "/api/settings/notify/log", token: "super", wantStatus: 200,
			contains: []string{`"items":[`, `"event":"test"`, `"attempt":1`}},
	})
	// The test sent the signed event, and nothing was saved.
	ev := ok.next(t)
	if ev.Type != notify.EventTest || !notify.Verify("s3cret-hook", ev.body, ev.signature) {
		t.Errorf("test event %+v, signature %q", ev.Event, ev.signature)
	}
	if _, body, _ := e.do("GET", "/api/settings", e.superTok, "", nil); strings.Contains(body, ok.srv.URL) {
		t.Errorf("a test saved its settings: %s", body)
	}
	if _, body, _ := e.do("GET", "/api/settings/notify/log", e.superTok, "", nil); strings.Contains(body, "path-token") || strings.Contains(body, "s3cret") {
		t.Errorf("the log shows a secret: %s", body)
	}
}

// TestNotifySecretsWriteOnly: GET never shows the webhook secret or the
// SMTP password; a PATCH without them keeps the stored ones.
func TestNotifySecretsWriteOnly(t *testing.T) {
	e := newEnv(t)
	hr := newHookReceiver(t, 200)
	status, body := e.patchSettings(`{"backups":{"notify":{"webhooks":[{"url":"` + hr.srv.URL + `","secret":"hook-secret-1"}],
		"email":{"enabled":true,"host":"127.0.0.1","port":2525,"tls":"none","username":"u","password":"smtp-password-1","from":"b@example.com","to":["ops@example.com"]},
		"staleAfter":"26h"}}}`)
	if status != 200 || strings.Contains(body, "hook-secret-1") || strings.Contains(body, "smtp-password-1") {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	_, got, _ := e.do("GET", "/api/settings", e.superTok, "", nil)
	if strings.Contains(got, "hook-secret-1") || strings.Contains(got, "smtp-password-1") || !strings.Contains(got, `"staleAfter":"26h"`) {
		t.Fatalf("GET /api/settings: %s", got)
	}
	// Send back what GET showed (secrets blank): they are kept.
	var doc map[string]any
	if err := json.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatal(err)
	}
	backups := doc["backups"].(map[string]any)
	notifyDoc := backups["notify"].(map[string]any)
	notifyDoc["email"].(map[string]any)["enabled"] = false // the test below is the webhook's
	round, _ := json.Marshal(map[string]any{"backups": map[string]any{"notify": notifyDoc}})
	if status, body := e.patchSettings(string(round)); status != 200 {
		t.Fatal(status, body)
	}
	if status, body, _ := e.do("POST", "/api/settings/test/notify", e.superTok, "", nil); status != 200 {
		t.Fatal(status, body)
	}
	if ev := hr.next(t); !notify.Verify("hook-secret-1", ev.body, ev.signature) {
		t.Errorf("the stored secret was not kept: signature %q", ev.signature)
	}
}

func TestNotifySettingsValidation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ body, want string }{
		{`{"backups":{"notify":{"staleAfter":"soon"}}}`, `"staleAfter":{"code":"validation_invalid_duration"`},
		{`{"backups":{"notify":{"staleAfter":"5s"}}}`, `"staleAfter":{"code":"validation_invalid_duration"`},
		{`{"backups":{"notify":{"webhooks":[{"url":"http://user:pw@example.com/"}]}}}`, `"webhooks":{"0":{"url"`},
		{`{"backups":{"notify":{"email":{"enabled":true,"host":"smtp.example.com","from":"x","to":["ops@example.com"]}}}}`, `"from":{"code":"validation_invalid"`},
		{`{"backups":{"notify":{"email":{"enabled":true,"host":"smtp.example.com","from":"a@example.com"}}}}`, `"to":{"code":"validation_invalid"`},
		{`{"backups":{"notify":{"email":{"enabled":true,"host":"smtp.example.com","tls":"ssl3","from":"a@example.com","to":["b@example.com"]}}}}`, `"tls":{"code":"validation_invalid"`},
		{`{"backups":{"notify":{"email":{"enabled":true,"host":"smtp.example.com","from":"a@example.com","to":["Bob <b@example.com>\r\nBcc: x@evil.example"]}}}}`, `"to":{"code":"validation_invalid"`},
	} {
		status, body := e.patchSettings(tc.body)
		if status != 400 || !strings.Contains(body, `"message":"An error occurred while validating the submitted data."`) || !strings.Contains(body, tc.want) {
			t.Errorf("PATCH %s: %d %s, want 400 with %s", tc.body, status, body, tc.want)
		}
	}
}

// TestNotifyFailedCreate: a failed create reaches the webhook with its
// stage, kind and the message health shows.
func TestNotifyFailedCreate(t *testing.T) {
	e := newEnv(t)
	hr := newHookReceiver(t, 200)
	if status, body := e.patchSettings(`{"backups":{"notify":{"webhooks":[{"url":"` + hr.srv.URL + `"}]}}}`); status != 200 {
		t.Fatal(status, body)
	}
	failNextArchive(t, e)
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"doomed.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	last := e.waitIdle()
	ev := hr.next(t)
	if ev.Type != notify.EventFailed || ev.Operation != "create" || ev.Trigger != "manual" || ev.Stage != "archive" ||
		ev.Key != "doomed.zip" || ev.Message != last["error"] || ev.Kind == "" {
		t.Errorf("event %+v; health %v", ev.Event, last)
	}
	if strings.Contains(string(ev.body), e.dataDir) {
		t.Errorf("the event shows a path: %s", ev.body)
	}
}

// failNextArchive makes the next create fail in its archive stage (the
// backups folder becomes a file) and puts the folder back afterwards.
func failNextArchive(t *testing.T, e *env) {
	t.Helper()
	backupsDir := filepath.Join(e.dataDir, "backups")
	moved := backupsDir + ".moved"
	var once sync.Once
	host.SetBeforeArchive(e.host, func() {
		once.Do(func() {
			if err := os.Rename(backupsDir, moved); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(backupsDir, []byte("not a dir"), 0o644); err != nil {
				t.Error(err)
			}
			t.Cleanup(func() {})
		})
	})
	t.Cleanup(func() { host.SetBeforeArchive(e.host, nil) })
}

// restoreBackupsDir undoes failNextArchive once the create failed.
func restoreBackupsDir(t *testing.T, e *env) {
	t.Helper()
	host.SetBeforeArchive(e.host, nil)
	backupsDir := filepath.Join(e.dataDir, "backups")
	if err := os.Remove(backupsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(backupsDir+".moved", backupsDir); err != nil {
		t.Fatal(err)
	}
}

// TestDeadMansSwitch with a fake clock: no good backup within staleAfter
// notifies once, however long it stays so; a good backup clears it once.
func TestDeadMansSwitch(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := cron.NewFakeClock(start)
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Clock = clock })
	hr := newHookReceiver(t, 200)
	if status, body := e.patchSettings(`{"backups":{"notify":{"staleAfter":"26h","webhooks":[{"url":"` + hr.srv.URL + `"}]}}}`); status != 200 {
		t.Fatal(status, body)
	}
	if h := e.health(); h["stale"] != false || h["lastGoodBackup"] != "" {
		t.Fatalf("health at start: %v", h)
	}
	clock.Advance(27 * time.Hour)
	ev := hr.next(t)
	if ev.Type != notify.EventStale || ev.LastGoodBackup != nil || !strings.Contains(ev.Message, "26h") {
		t.Fatalf("first event %+v", ev.Event)
	}
	if h := e.health(); h["stale"] != true {
		t.Fatalf("health when stale: %v", h)
	}
	// Still stale an hour and a day later: no second alert.
	clock.Advance(time.Hour)
	clock.Advance(24 * time.Hour)
	if status, body := e.patchSettings(`{"backups":{"notify":{"staleAfter":"25h"}}}`); status != 200 {
		t.Fatal(status, body)
	}

	e.createAndWait("fresh.zip")
	ev = hr.next(t)
	if ev.Type != notify.EventRecovered || ev.LastGoodBackup == nil || !ev.LastGoodBackup.Equal(start.Add(52*time.Hour)) {
		t.Fatalf("second event %+v (want backup_recovered at %v)", ev.Event, start.Add(52*time.Hour))
	}
	h := e.health()
	if h["stale"] != false || h["lastGoodBackup"] != "2026-03-03 16:00:00.000Z" {
		t.Fatalf("health after recovery: %v", h)
	}
	// Deliveries are in order: had the switch fired or cleared twice, the
	// extra event would come before this failure's.
	clock.Advance(time.Hour)
	e.createAndWait("another.zip")
	failNextArchive(t, e)
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"doomed.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	e.waitIdle()
	restoreBackupsDir(t, e)
	if ev := hr.next(t); ev.Type != notify.EventFailed {
		t.Fatalf("third event %+v, want operation_failed", ev.Event)
	}

	// Only superusers see the switch.
	_, body, _ := e.do("GET", "/api/health", e.userTok, "", nil)
	if strings.Contains(body, "stale") || strings.Contains(body, "lastGoodBackup") {
		t.Errorf("a user sees %s", body)
	}
}

// TestNotifyScheduledMissed: a scheduled backup that finds another
// operation running past all its retries is reported as missed, with the
// lock as its stage, and counted.
func TestNotifyScheduledMissed(t *testing.T) {
	clock := cron.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.Clock = clock })
	hr := newHookReceiver(t, 200)
	if status, body := e.patchSettings(`{"backups":{"cron":"@daily","cronMaxKeep":3,"notify":{"webhooks":[{"url":"` + hr.srv.URL + `"}]}}}`); status != 200 {
		t.Fatal(status, body)
	}
	release, reached := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // registered after the env's: runs before its Close
	host.SetBeforeArchive(e.host, func() { close(reached); <-release })
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"long.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	<-reached
	host.SetBeforeArchive(e.host, nil)
	if status, body, _ := e.do("POST", "/api/crons/__pbAutoBackup__", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	// The scheduler waits for the next day (one waiter); while the run
	// waits for its retry there are two: let each retry's time pass until
	// the run gives up.
	for host.CronRunning(e.host, host.AutoBackupJob) {
		waitFor(t, "the run to wait for its retry or give up", func() bool {
			return clock.Waiters() >= 2 || !host.CronRunning(e.host, host.AutoBackupJob)
		})
		if clock.Waiters() >= 2 {
			clock.Advance(10 * time.Second)
		}
	}
	ev := hr.next(t)
	if ev.Type != notify.EventScheduledMissed || ev.Stage != "lock" || ev.Kind != "busy" || ev.Trigger != "scheduled" ||
		!strings.HasPrefix(ev.Message, "Scheduled backup did not run") {
		t.Fatalf("event %+v", ev.Event)
	}
	letGo()
	e.waitIdle()
	fams := e.scrape()
	if v := metricValue(fams, "pocketbackup_operation_failures_total", map[string]string{"operation": "create", "stage": "lock", "kind": "busy"}); v != 1 {
		t.Errorf("missed scheduled backups = %v, want 1", v)
	}
	if v := metricValue(fams, "pocketbackup_operations_total", map[string]string{"trigger": "scheduled", "result": "failure"}); v != 1 {
		t.Errorf("failed scheduled = %v, want 1", v)
	}
}

// TestNotifySettingsOmittedUntilSet: the settings read exactly as
// PocketBase's (the SDK examples check their keys) until alerts are set,
// and again once they are all removed.
func TestNotifySettingsOmittedUntilSet(t *testing.T) {
	e := newEnv(t)
	for _, patch := range []string{`{}`, `{"backups":{"cron":""}}`, `{"backups":{"notify":{"webhooks":[],"email":{"tls":"starttls"}}}}`} {
		if status, body := e.patchSettings(patch); status != 200 || strings.Contains(body, "notify") {
			t.Errorf("PATCH %s: %d %s", patch, status, body)
		}
	}
	if status, body := e.patchSettings(`{"backups":{"notify":{"staleAfter":"26h"}}}`); status != 200 || !strings.Contains(body, `"notify":{`) {
		t.Errorf("PATCH staleAfter: %d %s", status, body)
	}
	if status, body := e.patchSettings(`{"backups":{"notify":{"staleAfter":""}}}`); status != 200 || strings.Contains(body, "notify") {
		t.Errorf("PATCH clearing staleAfter: %d %s", status, body)
	}
}
