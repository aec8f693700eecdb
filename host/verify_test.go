package host_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
)

// createBackup creates key through the API and waits for it.
func (e *env) createBackup(key string) {
	e.t.Helper()
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"`+key+`"}`)); status != 204 {
		e.t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		e.t.Fatalf("create: %v", last)
	}
}

// verifyAndWait verifies key in mode and returns the outcome.
func (e *env) verifyAndWait(key, mode string) map[string]any {
	e.t.Helper()
	if status, body, _ := e.do("POST", "/api/backups/"+key+"/verify", e.superTok, "application/json", strings.NewReader(`{"mode":"`+mode+`"}`)); status != 204 {
		e.t.Fatal(status, body)
	}
	last := e.waitIdle()
	if last["kind"] != "verify" || last["key"] != key {
		e.t.Fatalf("lastOperation = %v, want the verify of %s", last, key)
	}
	return last
}

// listed returns the list's item for key.
func (e *env) listed(key string) map[string]any {
	e.t.Helper()
	_, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	var items []map[string]any
	if err := json.Unmarshal([]byte(body), &items); err != nil {
		e.t.Fatal(err, body)
	}
	for _, it := range items {
		if it["key"] == key {
			return it
		}
	}
	e.t.Fatalf("%s not listed in %s", key, body)
	return nil
}

func TestVerifyRoute(t *testing.T) {
	e := newEnv(t)
	e.createBackup("v.zip")
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "POST", path: "/api/backups/v.zip/verify", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "garbage token", method: "POST", path: "/api/backups/v.zip/verify", token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "POST", path: "/api/backups/v.zip/verify", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "unknown key", method: "POST", path: "/api/backups/nope.zip/verify", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "hidden key", method: "POST", path: "/api/backups/.tmp-x/verify", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "unknown mode", method: "POST", path: "/api/backups/v.zip/verify", token: "super", contentType: "application/json",
			body: jsonBody(`{"mode":"thorough"}`), wantStatus: 400, contains: []string{`"mode":{"code":"validation_in_invalid"`}},
		{name: "superuser, default mode", method: "POST", path: "/api/backups/v.zip/verify", token: "super", wantStatus: 204},
	})
	if last := e.waitIdle(); last["ok"] != true || last["kind"] != "verify" {
		t.Fatalf("lastOperation = %v", last)
	}
}

// TestVerifyGoodBackup: a created backup lists its digest; quick and deep
// verify pass, the list shows when and "ok", and deep reports data.db's
// tables with their row counts.
func TestVerifyGoodBackup(t *testing.T) {
	e := newEnv(t)
	e.createBackup("good.zip")
	data, err := os.ReadFile(filepath.Join(e.dataDir, "backups", "good.zip"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	item := e.listed("good.zip")
	if item["sha256"] != hex.EncodeToString(sum[:]) || item["verify"] != nil {
		t.Fatalf("listed %v, want its digest and no verification yet", item)
	}
	last := e.verifyAndWait("good.zip", "quick")
	if last["ok"] != true {
		t.Fatalf("quick verify: %v", last)
	}
	if item = e.listed("good.zip"); item["verify"] != "ok" || item["verifiedAt"] == nil {
		t.Fatalf("listed after verify: %v", item)
	}
	last = e.verifyAndWait("good.zip", "deep")
	v, _ := last["verify"].(map[string]any)
	if last["ok"] != true || v == nil || v["mode"] != "deep" {
		t.Fatalf("deep verify: %v", last)
	}
	tables, _ := json.Marshal(v["tables"])
	if !strings.Contains(string(tables), `{"name":"notes","rows":50}`) {
		t.Errorf("deep verify tables = %s, want notes with 50 rows", tables)
	}
	if left, _ := os.ReadDir(filepath.Join(e.dataDir, ".pb_temp_to_delete")); len(left) != 0 {
		t.Errorf("verify left %d entries in the scratch space", len(left))
	}
}

// TestVerifyCorruptedBackup: one byte changed in a stored backup fails a
// quick verify (the digest), shows in the list, and a restore of it is
// refused before anything is touched, saying why.
func TestVerifyCorruptedBackup(t *testing.T) {
	re := newRestoreEnv(t, nil)
	e := re.env
	e.createBackup("bad.zip")
	path := filepath.Join(e.dataDir, "backups", "bad.zip")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	last := e.verifyAndWait("bad.zip", "quick")
	if last["ok"] != false || !strings.Contains(last["error"].(string), "does not match the SHA-256") {
		t.Fatalf("quick verify of a changed backup: %v", last)
	}
	if item := e.listed("bad.zip"); !strings.Contains(item["verify"].(string), "does not match the SHA-256") {
		t.Fatalf("listed: %v", item)
	}
	if status, body, _ := e.do("POST", "/api/backups/bad.zip/restore", e.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	last = e.waitIdle()
	if last["ok"] != false || last["kind"] != "restore" || !strings.Contains(last["error"].(string), "does not match the SHA-256") {
		t.Fatalf("restore of a changed backup: %v", last)
	}
	if re.shutdowns != 0 {
		t.Fatal("the app was stopped for a changed backup")
	}
}

// TestVerifyDeepDamagedDatabase: an archive whose data.db has a damaged
// page but whose CRCs were computed over the damage passes quick verify;
// deep verify finds it and names the database.
func TestVerifyDeepDamagedDatabase(t *testing.T) {
	e := newEnv(t)
	db := filepath.Join(t.TempDir(), "data.db")
	makeDatabase(t, db, 2000)
	checkpoint(t, db)
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	copy(raw[2*4096:3*4096], bytes.Repeat([]byte("\x0d\xff\xff\xff\x00\x07"), 4096/6+1))
	up, upType := multipartBody("file", "damaged.zip", zipOf(t, map[string]string{"data.db": string(raw)}))
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatal(status, body)
	}
	if last := e.verifyAndWait("damaged.zip", "quick"); last["ok"] != true {
		t.Fatalf("quick verify: %v (the zip itself is sound)", last)
	}
	last := e.verifyAndWait("damaged.zip", "deep")
	if last["ok"] != false || !strings.Contains(last["error"].(string), "data.db") {
		t.Fatalf("deep verify of a damaged database: %v", last)
	}
}

// checkpoint folds a WAL database's log into its file.
func checkpoint(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE"); err != nil {
		t.Fatal(err)
	}
}

// TestDownloadDigestHeaders: a download names its digest (Repr-Digest, RFC
// 9530) and a strong ETag; a range with a matching If-Range is a 206, one
// with another ETag the whole backup (200), never a splice.
func TestDownloadDigestHeaders(t *testing.T) {
	e := newEnv(t)
	e.createBackup("dl.zip")
	data, err := os.ReadFile(filepath.Join(e.dataDir, "backups", "dl.zip"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	get := func(header map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", e.server.URL+"/api/backups/dl.zip?token="+e.superFile, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readAll(t, resp)
	}
	resp, body := get(nil)
	etag := resp.Header.Get("ETag")
	if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; resp.Header.Get("Repr-Digest") != want {
		t.Errorf("Repr-Digest = %q, want %q", resp.Header.Get("Repr-Digest"), want)
	}
	if !strings.HasPrefix(etag, `"`) || !strings.Contains(etag, hex.EncodeToString(sum[:])) || !bytes.Equal(body, data) {
		t.Fatalf("ETag = %q (want a strong tag carrying the digest), %d bytes", etag, len(body))
	}
	if resp, body = get(map[string]string{"Range": "bytes=10-19", "If-Range": etag}); resp.StatusCode != 206 || !bytes.Equal(body, data[10:20]) {
		t.Errorf("matching If-Range: status %d, %d bytes; want 206 with bytes 10-19", resp.StatusCode, len(body))
	}
	for _, other := range []string{`"sha256-0000"`, "W/" + etag} {
		if resp, body = get(map[string]string{"Range": "bytes=10-19", "If-Range": other}); resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Errorf("If-Range %s: status %d, %d bytes; want 200 with the whole backup", other, resp.StatusCode, len(body))
		}
	}
}

// TestVerifyBusy: a verify takes the one-operation lock: refused while a
// create runs.
func TestVerifyBusy(t *testing.T) {
	e := newEnv(t)
	e.createBackup("first.zip")
	release, reached := make(chan struct{}), make(chan struct{})
	host.SetBeforeArchive(e.host, func() { close(reached); <-release })
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"second.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	<-reached
	runScenarios(t, e, []scenario{
		{name: "busy", method: "POST", path: "/api/backups/first.zip/verify", token: "super", wantStatus: 400, wantBody: bodyBusy},
	})
	close(release)
	e.waitIdle()
}
