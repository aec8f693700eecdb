package host_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
)

// Answers for a name that a create or an upload already holds.
const (
	bodyRaceCreateTaken = `{"status":400,"message":"A backup with the name \"race.zip\" already exists.","data":{"name":{"code":"validation_backup_name_exists","message":"The backup file name is invalid or already exists."}}}`
	bodyRaceUploadTaken = `{"status":400,"message":"A backup with the name \"race.zip\" already exists.","data":{"file":{"code":"validation_backup_name_exists","message":"The backup file name is invalid or already exists."}}}`
)

// sameNameStorages are the storages the same-name tests run on: the local
// folder, and an S3-protocol server switched to through the settings API.
var sameNameStorages = []struct {
	name string
	env  func(t *testing.T) *env
}{
	{"file", func(t *testing.T) *env { return newEnv(t) }},
	{"s3", func(t *testing.T) *env {
		endpoint := fakeS3(t, "race-bucket")
		e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{} })
		s3 := `{"backups":{"s3":{"enabled":true,"bucket":"race-bucket","region":"us-east-1","endpoint":"` + endpoint +
			`","accessKey":"AKIDEXAMPLE","secret":"SECRETEXAMPLE","forcePathStyle":true}}}`
		if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(s3)); status != 200 {
			t.Fatalf("switch to S3: %d %s", status, body)
		}
		return e
	}},
}

// TestCreateThenUploadSameName: while a create of race.zip runs, an upload
// of race.zip is refused with the contract's "already exists" answer, and
// the create's backup is what is stored.
func TestCreateThenUploadSameName(t *testing.T) {
	for _, st := range sameNameStorages {
		t.Run(st.name, func(t *testing.T) {
			e := st.env(t)
			reached, release := make(chan struct{}), make(chan struct{})
			host.SetBeforeArchive(e.host, func() { close(reached); <-release })
			if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"race.zip"}`)); status != 204 {
				t.Fatalf("create: %d %s", status, body)
			}
			<-reached
			uploaded := zipOf(t, map[string]string{"data.db": "the upload"})
			up, upType := multipartBody("file", "race.zip", uploaded)
			status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t)))
			close(release)
			if status != 400 || strings.TrimSpace(body) != bodyRaceUploadTaken {
				t.Errorf("upload during the create: %d %s, want 400 %s", status, body, bodyRaceUploadTaken)
			}
			if last := e.waitIdle(); last["ok"] != true || last["key"] != "race.zip" {
				t.Fatalf("the create: %v", last)
			}
			if got := e.download("race.zip"); bytes.Equal(got, uploaded) || !bytes.Contains(got, []byte("storage/col1/f.txt")) {
				t.Errorf("race.zip is not the created backup (%d bytes)", len(got))
			}
			if keys := e.keys(); len(keys) != 1 || keys[0] != "race.zip" {
				t.Errorf("listed %q, want [race.zip]", keys)
			}
		})
	}
}

// TestUploadThenCreateSameName: while an upload of race.zip runs, a create
// of race.zip is refused with the contract's "already exists" answer, and
// the upload is what is stored.
func TestUploadThenCreateSameName(t *testing.T) {
	for _, st := range sameNameStorages {
		t.Run(st.name, func(t *testing.T) {
			e := st.env(t)
			reached, release := make(chan struct{}), make(chan struct{})
			host.SetUploadReserved(e.host, func() { close(reached); <-release })
			uploaded := zipOf(t, map[string]string{"data.db": "the upload"})
			up, upType := multipartBody("file", "race.zip", uploaded)
			type answer struct {
				status int
				body   string
			}
			done := make(chan answer, 1)
			go func() {
				status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t)))
				done <- answer{status, body}
			}()
			<-reached
			status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"race.zip"}`))
			close(release)
			if status != 400 || strings.TrimSpace(body) != bodyRaceCreateTaken {
				t.Errorf("create during the upload: %d %s, want 400 %s", status, body, bodyRaceCreateTaken)
			}
			if a := <-done; a.status != 204 {
				t.Fatalf("upload: %d %s", a.status, a.body)
			}
			e.waitIdle()
			if got := e.download("race.zip"); !bytes.Equal(got, uploaded) {
				t.Errorf("race.zip is not the upload (%d bytes, want %d)", len(got), len(uploaded))
			}
			if keys := e.keys(); len(keys) != 1 || keys[0] != "race.zip" {
				t.Errorf("listed %q, want [race.zip]", keys)
			}
		})
	}
}
