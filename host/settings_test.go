package host_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketbackup/pocketbackup/host"
)

// memSettings is a real in-memory host.SettingsStore.
type memSettings struct {
	mu   sync.Mutex
	data []byte
}

func (m *memSettings) LoadSettings(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data, nil
}

func (m *memSettings) SaveSettings(_ context.Context, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = append([]byte(nil), data...)
	return nil
}

// fakeS3 starts an S3-protocol server on loopback with one bucket.
func fakeS3(t *testing.T, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSettingsRoutes(t *testing.T) {
	store := &memSettings{}
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = store })
	defaults := `{"backups":{"cron":"","cronMaxKeep":3,"s3":{"enabled":false,"bucket":"","region":"","endpoint":"","accessKey":"","secret":"","forcePathStyle":false}}}`
	runScenarios(t, e, []scenario{
		{name: "get no auth", method: "GET", path: "/api/settings", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "get non-superuser", method: "GET", path: "/api/settings", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "get defaults", method: "GET", path: "/api/settings", token: "super", wantStatus: 200, wantBody: defaults},
		{name: "patch no auth", method: "PATCH", path: "/api/settings", contentType: "application/json", body: jsonBody(`{"backups":{"cron":"0 0 * * *"}}`), wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "patch non-superuser", method: "PATCH", path: "/api/settings", token: "user", contentType: "application/json", body: jsonBody(`{}`), wantStatus: 403, wantBody: bodyForbidden},
		{name: "bad cron", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":{"cron":"61 * * * *"}}`), wantStatus: 400,
			contains: []string{`"backups":{"cron":{"code":"validation_invalid_cron"`}},
		{name: "keep zero with cron", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":{"cron":"@daily","cronMaxKeep":0}}`), wantStatus: 400,
			contains: []string{`"cronMaxKeep":{"code":"validation_min_greater_equal_than_required"`}},
		{name: "s3 incomplete", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":{"s3":{"enabled":true,"bucket":"b"}}}`), wantStatus: 400,
			contains: []string{`"s3":{`, `"region":{"code":"validation_required"`, `"secret":{"code":"validation_required"`, `"endpoint"`}},
		{name: "malformed", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":`), wantStatus: 400,
			wantBody: `{"status":400,"message":"Something went wrong while processing your request.","data":{}}`},
		{name: "valid", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json",
			body:       jsonBody(`{"backups":{"cron":"0 3 * * *","cronMaxKeep":5,"s3":{"bucket":"b-bucket","region":"r","endpoint":"http://127.0.0.1:1","accessKey":"AK","secret":"TOPSECRET"}}}`),
			wantStatus: 200, contains: []string{`"cron":"0 3 * * *"`, `"cronMaxKeep":5`, `"secret":""`}},
		{name: "secret kept when omitted", method: "PATCH", path: "/api/settings", token: "super", contentType: "application/json", body: jsonBody(`{"backups":{"cronMaxKeep":4}}`), wantStatus: 200, contains: []string{`"cronMaxKeep":4`, `"cron":"0 3 * * *"`}},
		{name: "crons listed", method: "GET", path: "/api/crons", token: "super", wantStatus: 200, contains: []string{`[{"id":"__pbAutoBackup__","expression":"0 3 * * *","next":"20`}},
	})
	if !strings.Contains(string(store.data), "TOPSECRET") || !strings.Contains(string(store.data), `"cronMaxKeep":4`) {
		t.Fatalf("persisted settings = %s", store.data)
	}
	// A new host over the same store starts with the saved schedule.
	e2 := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = store })
	if status, body, _ := e2.do("GET", "/api/crons", e2.superTok, "", nil); status != 200 || !strings.Contains(body, "0 3 * * *") {
		t.Fatalf("crons after restart: %d %s", status, body)
	}
}

// TestS3Switch switches backups to an S3 bucket and back, without restart.
func TestS3Switch(t *testing.T) {
	endpoint := fakeS3(t, "backups-bucket")
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{}; cfg.S3Prefix = "app1" })
	e.createAndWait("local_one.zip")

	s3 := `{"backups":{"s3":{"enabled":true,"bucket":"backups-bucket","region":"us-east-1","endpoint":"` + endpoint + `","accessKey":"AKIDEXAMPLE","secret":"SECRETEXAMPLE","forcePathStyle":true}}}`
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(s3)); status != 200 {
		t.Fatal(status, body)
	}
	runScenarios(t, e, []scenario{
		{name: "test s3 no auth", method: "POST", path: "/api/settings/test/s3", contentType: "application/json", body: jsonBody(`{"filesystem":"backups"}`), wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "test s3 non-superuser", method: "POST", path: "/api/settings/test/s3", token: "user", contentType: "application/json", body: jsonBody(`{"filesystem":"backups"}`), wantStatus: 403, wantBody: bodyForbidden},
		{name: "test s3 bad filesystem", method: "POST", path: "/api/settings/test/s3", token: "super", contentType: "application/json", body: jsonBody(`{"filesystem":"storage"}`), wantStatus: 400, contains: []string{`"filesystem"`}},
		{name: "test s3 ok", method: "POST", path: "/api/settings/test/s3", token: "super", contentType: "application/json", body: jsonBody(`{"filesystem":"backups"}`), wantStatus: 204},
		{name: "s3 starts empty", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, wantBody: `[]`},
	})
	e.createAndWait("on_s3.zip")
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 || !strings.Contains(body, "on_s3.zip") || strings.Contains(body, "local_one.zip") {
		t.Fatalf("list on S3: %d %s", status, body)
	}
	if data := e.download("on_s3.zip"); len(data) < 100 {
		t.Fatalf("download from S3: %d bytes", len(data))
	}
	// Back to local: the local backup is there again, the S3 one is not.
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(`{"backups":{"s3":{"enabled":false}}}`)); status != 200 {
		t.Fatal(status, body)
	}
	status, body, _ = e.do("GET", "/api/backups", e.superTok, "", nil)
	if !strings.Contains(body, "local_one.zip") || strings.Contains(body, "on_s3.zip") {
		t.Fatalf("list after switching back: %d %s", status, body)
	}
}

// TestS3TestFailsCleanly: an unreachable endpoint gives a 400 that names
// neither the secret nor the access key.
func TestS3TestFailsCleanly(t *testing.T) {
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{} })
	patch := `{"backups":{"s3":{"enabled":false,"bucket":"nope","region":"us-east-1","endpoint":"http://127.0.0.1:9","accessKey":"AKIDLEAKCHECK","secret":"SECRETLEAKCHECK","forcePathStyle":true}}}`
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(patch)); status != 200 {
		t.Fatal(status, body)
	}
	status, body, _ := e.do("POST", "/api/settings/test/s3", e.superTok, "application/json", strings.NewReader(`{"filesystem":"backups"}`))
	var resp map[string]any
	_ = json.Unmarshal([]byte(body), &resp)
	if status != 400 || !strings.HasPrefix(resp["message"].(string), "Failed to use the S3 storage") {
		t.Fatalf("test s3: %d %s", status, body)
	}
	if strings.Contains(body, "SECRETLEAKCHECK") || strings.Contains(body, "AKIDLEAKCHECK") {
		t.Fatalf("credentials leaked: %s", body)
	}
}
