package host_test

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// download fetches a backup with a superuser file token.
func (e *env) download(key string) []byte {
	e.t.Helper()
	resp, err := http.Get(e.server.URL + "/api/backups/" + key + "?token=" + e.superFile)
	if err != nil {
		e.t.Fatal(err)
	}
	data := readAll(e.t, resp)
	if resp.StatusCode != 200 {
		e.t.Fatalf("download %s: %d %s", key, resp.StatusCode, data)
	}
	return data
}

// TestCreateArchivesConsistentData checks what a created backup holds:
// every database as a snapshot that passes integrity_check with all rows,
// the storage files, and nothing of the excluded folders.
func TestCreateArchivesConsistentData(t *testing.T) {
	e := newEnv(t)
	// Things that must stay out of the archive.
	for _, p := range []string{"backups/old.zip", ".pb_temp_to_delete/junk", "lost+found/x"} {
		path := filepath.Join(e.dataDir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"full.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		t.Fatalf("create failed: %v", last)
	}
	data := e.download("full.zip")
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Method != zip.Deflate && f.Method != zip.Store {
			t.Errorf("%s uses method %d", f.Name, f.Method)
		}
		if strings.HasPrefix(f.Name, "backups/") || strings.HasPrefix(f.Name, ".pb_temp_to_delete/") || strings.HasPrefix(f.Name, "lost+found/") ||
			strings.HasSuffix(f.Name, "-wal") || strings.HasSuffix(f.Name, "-shm") {
			t.Errorf("archive holds excluded %s", f.Name)
		}
		if strings.HasSuffix(f.Name, ".db") {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			out, _ := os.Create(filepath.Join(dir, f.Name))
			if _, err := io.Copy(out, rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			out.Close()
		}
	}
	if !names["data.db"] || !names["auxiliary.db"] || !names["storage/col1/f.txt"] {
		t.Fatalf("archive entries %v", names)
	}
	for db, rows := range map[string]int{"data.db": 50, "auxiliary.db": 5} {
		conn, err := sql.Open("sqlite", filepath.Join(dir, db))
		if err != nil {
			t.Fatal(err)
		}
		var check string
		var count int
		if err := conn.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Errorf("%s integrity_check = %q, %v", db, check, err)
		}
		if err := conn.QueryRow("SELECT count(*) FROM notes").Scan(&count); err != nil || count != rows {
			t.Errorf("%s rows = %d, %v; want %d", db, count, err, rows)
		}
		conn.Close()
	}
	// The snapshot folder is cleaned up after the create.
	left, _ := os.ReadDir(filepath.Join(e.dataDir, ".pb_temp_to_delete"))
	for _, l := range left {
		if strings.HasPrefix(l.Name(), "snapshot-") {
			t.Errorf("snapshot left behind: %s", l.Name())
		}
	}
}

// TestOperationLock holds a create open and checks what the contract says
// happens meanwhile: a second create or delete of the key is refused and
// health shows the running operation.
func TestOperationLock(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	reached := make(chan struct{})
	host.SetBeforeArchive(e.host, func() {
		close(reached)
		<-release
	})
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"held.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	<-reached
	runScenarios(t, e, []scenario{
		{name: "second create", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"other.zip"}`), wantStatus: 400, wantBody: bodyBusy},
		{name: "delete in use", method: "DELETE", path: "/api/backups/held.zip", token: "super", wantStatus: 400,
			wantBody: `{"status":400,"message":"The backup is currently being used and cannot be deleted.","data":{}}`},
		{name: "not listed while running", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, wantBody: `[]`},
	})
	data := e.health()
	op, _ := data["operation"].(map[string]any)
	if data["canBackup"] != false || op["kind"] != "create" || op["key"] != "held.zip" || op["started"] == "" {
		t.Fatalf("health while running = %v", data)
	}
	close(release)
	if last := e.waitIdle(); last["ok"] != true || last["kind"] != "create" || last["finished"] == "" {
		t.Fatalf("last = %v", last)
	}
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 || !strings.Contains(body, "held.zip") {
		t.Fatal(status, body)
	}
}

// TestFailedCreateLeavesNothing breaks the storage mid-operation: the
// failure is reported in health without internals and nothing is listed.
func TestFailedCreateLeavesNothing(t *testing.T) {
	e := newEnv(t)
	backupsDir := filepath.Join(e.dataDir, "backups")
	host.SetBeforeArchive(e.host, func() {
		// The store's directory becomes a file: the write cannot start.
		if err := os.RemoveAll(backupsDir); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(backupsDir, []byte("not a dir"), 0o644); err != nil {
			t.Error(err)
		}
	})
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"doomed.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	last := e.waitIdle()
	msg, _ := last["error"].(string)
	if last["ok"] != false || !strings.HasPrefix(msg, "Failed to create backup") || strings.Contains(msg, e.dataDir) {
		t.Fatalf("last = %v", last)
	}
	if err := os.Remove(backupsDir); err != nil {
		t.Fatal(err)
	}
	host.SetBeforeArchive(e.host, nil)
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 || body != "[]\n" {
		t.Fatalf("after a failed create: %d %s", status, body)
	}
	// The lock was released: the next create works.
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"next.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		t.Fatalf("next create: %v", last)
	}
}
