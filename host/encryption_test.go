package host_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// marker is written into the app's data; storage must never show it.
const marker = "MARKER-host-9c1e-plaintext"

func genKeys(t *testing.T) string {
	t.Helper()
	text, err := atrest.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// markData writes the marker into the app's database and its files.
func markData(t *testing.T, dataDir string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO notes (title) VALUES (?)`, marker); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "storage", "col1", "marked.txt"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
}

func assertStoredCiphertext(t *testing.T, stored []byte) {
	t.Helper()
	head := stored[:min(len(stored), 1<<20)]
	for _, sig := range []string{"PK\x03\x04", "PK\x01\x02", "PK\x05\x06"} {
		if bytes.Contains(head, []byte(sig)) {
			t.Fatalf("stored backup holds a zip signature %q", sig)
		}
	}
	if bytes.Contains(stored, []byte(marker)) || !atrest.IsEncrypted(stored) {
		t.Fatal("stored backup is not an age file without the app's data in clear")
	}
}

// TestEncryptedBackupRoutes: with a key, a created backup is stored
// encrypted, listed with encrypted:true, downloaded as the plain zip
// (ranges too) and, with ?format=encrypted, as stored; an age file
// uploaded is accepted. The new query has its scenario rows.
func TestEncryptedBackupRoutes(t *testing.T) {
	keysText := genKeys(t)
	e := newEnvWith(t, func(cfg *host.Config) { cfg.EncryptionKeys = keysText })
	markData(t, e.dataDir)
	e.createAndWait("enc.zip")
	stored, err := os.ReadFile(filepath.Join(e.dataDir, "backups", "enc.zip"))
	if err != nil {
		t.Fatal(err)
	}
	assertStoredCiphertext(t, stored)

	var plain bytes.Buffer
	if _, err := atrest.DecryptFile(&plain, bytes.NewReader(stored), []byte(keysText)); err != nil {
		t.Fatalf("offline decryption: %v", err)
	}
	if got := e.download("enc.zip"); !bytes.Equal(got, plain.Bytes()) || !bytes.HasPrefix(got, []byte("PK")) {
		t.Fatalf("download: %d bytes, want the %d-byte plain zip", len(got), plain.Len())
	}
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 || !strings.Contains(body, `"encrypted":true`) || !strings.Contains(body, `"size":`+fmtInt(plain.Len())) {
		t.Fatalf("list: %d %s", status, body)
	}
	runScenarios(t, e, []scenario{
		{name: "stored form, no token", method: "GET", path: "/api/backups/enc.zip?format=encrypted", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "stored form, bad token", method: "GET", path: "/api/backups/enc.zip?format=encrypted&token=not.a.token", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "stored form, non-superuser", method: "GET", path: "/api/backups/enc.zip?format=encrypted&token={userFile}", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "stored form, superuser", method: "GET", path: "/api/backups/enc.zip?format=encrypted&token={superFile}", wantStatus: 200},
		{name: "unknown format", method: "GET", path: "/api/backups/enc.zip?format=zip&token={superFile}", wantStatus: 400,
			wantBody: `{"status":400,"message":"The format must be empty or \"encrypted\".","data":{}}`},
	})
	resp := get(t, e.server.URL+"/api/backups/enc.zip?format=encrypted&token="+e.superFile, "")
	if got := readAll(t, resp); !bytes.Equal(got, stored) || resp.Header.Get("Content-Disposition") != "attachment; filename=enc.zip.age" {
		t.Fatalf("stored form: %d bytes (want %d), %q", len(got), len(stored), resp.Header.Get("Content-Disposition"))
	}
	// The recorded digest is the stored bytes': sent with them, never with
	// the decrypted zip, whose entity tag differs from the stored form's.
	storedSum := sha256.Sum256(stored)
	if want := "sha-256=:" + base64.StdEncoding.EncodeToString(storedSum[:]) + ":"; resp.Header.Get("Repr-Digest") != want {
		t.Errorf("stored form: Repr-Digest %q, want %q", resp.Header.Get("Repr-Digest"), want)
	}
	plainResp := get(t, e.server.URL+"/api/backups/enc.zip?token="+e.superFile, "")
	readAll(t, plainResp)
	if d := plainResp.Header.Get("Repr-Digest"); d != "" {
		t.Errorf("decrypted download carries the stored bytes' digest %q", d)
	}
	if pe, se := plainResp.Header.Get("ETag"), resp.Header.Get("ETag"); pe == "" || pe == se {
		t.Errorf("decrypted download ETag %q, stored form's %q: want two different strong tags", pe, se)
	}
	n := plain.Len()
	for _, r := range []struct {
		header   string
		from, to int
	}{{"bytes=0-99", 0, 99}, {"bytes=70000-", 70000, n - 1}, {"bytes=-50", n - 50, n - 1}} {
		if r.from >= n {
			continue
		}
		resp := get(t, e.server.URL+"/api/backups/enc.zip?token="+e.superFile, r.header)
		if got := readAll(t, resp); resp.StatusCode != 206 || !bytes.Equal(got, plain.Bytes()[r.from:r.to+1]) {
			t.Fatalf("Range %s: status %d, %d bytes", r.header, resp.StatusCode, len(got))
		}
	}
	// The stored form uploads again as it is, and a plain zip is
	// encrypted on its way in.
	up, upType := multipartBody("file", "again.zip", stored)
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatalf("upload of the stored form: %d %s", status, body)
	}
	up, upType = multipartBody("file", "plain.zip", plain.Bytes())
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatalf("upload of the plain zip: %d %s", status, body)
	}
	storedUp, _ := os.ReadFile(filepath.Join(e.dataDir, "backups", "plain.zip"))
	assertStoredCiphertext(t, storedUp)
}

func get(t *testing.T, url, rangeHeader string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sharedStorage is a backups folder several test hosts use.
func sharedStorage(t *testing.T) (url, dir string) {
	dir = filepath.Join(t.TempDir(), "shared-backups")
	return "file://" + dir, dir
}

// TestEncryptedRestoreAndRotation: a backup made with key A restores on a
// host holding B then A, and the data is the backup's.
func TestEncryptedRestoreAndRotation(t *testing.T) {
	storage, _ := sharedStorage(t)
	a, b := genKeys(t), genKeys(t)
	maker := newEnvWith(t, func(cfg *host.Config) { cfg.EncryptionKeys = a; cfg.StorageURL = storage })
	addNotes(t, filepath.Join(maker.dataDir, "data.db"), 7)
	maker.createAndWait("made_with_a.zip")

	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.EncryptionKeys = b + a; cfg.StorageURL = storage })
	dbPath := filepath.Join(re.dataDir, "data.db")
	if got := countNotes(t, dbPath); got != 50 {
		t.Fatalf("restoring host starts with %d notes", got)
	}
	if status, body, _ := re.do("POST", "/api/backups/made_with_a.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if got := countNotes(t, dbPath); got != 57 {
		t.Fatalf("notes after restoring A's backup = %d, want 57", got)
	}
	last, _ := next.health()["lastOperation"].(map[string]any)
	if last["ok"] != true {
		t.Fatalf("lastOperation = %v", last)
	}
}

// TestEncryptedRestoreRefusals: no key, a wrong key and a truncated object
// are refused with a 400 naming the problem before anything happens; a
// flipped byte in the middle is found while extracting, and the restore
// fails with the data untouched.
func TestEncryptedRestoreRefusals(t *testing.T) {
	storage, dir := sharedStorage(t)
	a := genKeys(t)
	maker := newEnvWith(t, func(cfg *host.Config) { cfg.EncryptionKeys = a; cfg.StorageURL = storage })
	big := make([]byte, 640<<10)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(maker.dataDir, "storage", "col1", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	maker.createAndWait("a.zip")
	stored, err := os.ReadFile(filepath.Join(dir, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := stored[:len(stored)-700]
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/3] ^= 0x01
	for name, data := range map[string][]byte{"truncated.zip": truncated, "flipped.zip": flipped} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	noKey := `{"status":400,"message":"The backup is encrypted and no encryption key is configured.","data":{}}`
	wrongKey := `{"status":400,"message":"None of the configured encryption keys can decrypt the backup.","data":{}}`
	invalid := `{"status":400,"message":"Missing or invalid backup file.","data":{}}`

	plainHost := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.StorageURL = storage })
	runScenarios(t, plainHost.env, []scenario{
		{name: "no key: restore", method: "POST", path: "/api/backups/a.zip/restore", token: "super", wantStatus: 400, wantBody: noKey},
		{name: "no key: download", method: "GET", path: "/api/backups/a.zip?token={superFile}", wantStatus: 400, wantBody: noKey},
		{name: "no key: stored form still downloads", method: "GET", path: "/api/backups/a.zip?format=encrypted&token={superFile}", wantStatus: 200},
		{name: "no key: listed", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, contains: []string{`"key":"a.zip"`}},
	})
	up, upType := multipartBody("file", "up.zip", stored)
	if status, body, _ := plainHost.do("POST", "/api/backups/upload", plainHost.superTok, upType, bytes.NewReader(up(t))); status != 400 || !strings.Contains(body, "validation_encryption_no_key") {
		t.Fatalf("upload of an encrypted backup without a key: %d %s", status, body)
	}
	wrongHost := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.EncryptionKeys = genKeys(t); cfg.StorageURL = storage })
	runScenarios(t, wrongHost.env, []scenario{
		{name: "wrong key: restore", method: "POST", path: "/api/backups/a.zip/restore", token: "super", wantStatus: 400, wantBody: wrongKey},
		{name: "wrong key: download", method: "GET", path: "/api/backups/a.zip?token={superFile}", wantStatus: 400, wantBody: wrongKey},
	})
	keyed := newRestoreEnvWith(t, nil, func(cfg *host.Config) { cfg.EncryptionKeys = a; cfg.StorageURL = storage })
	runScenarios(t, keyed.env, []scenario{
		{name: "truncated: restore", method: "POST", path: "/api/backups/truncated.zip/restore", token: "super", wantStatus: 400, wantBody: invalid},
	})
	dbPath := filepath.Join(keyed.dataDir, "data.db")
	if status, body, _ := keyed.do("POST", "/api/backups/flipped.zip/restore", keyed.superTok, "", nil); status != 204 {
		t.Fatalf("flipped: %d %s", status, body)
	}
	last := keyed.waitIdle()
	if last["ok"] == true || !strings.Contains(last["error"].(string), "not a valid archive") {
		t.Fatalf("flipped byte: lastOperation = %v", last)
	}
	for _, re := range []*restoreEnv{plainHost, wrongHost, keyed} {
		if re.shutdowns != 0 {
			t.Fatal("a refused restore shut the app down")
		}
	}
	if got := countNotes(t, dbPath); got != 50 {
		t.Fatalf("data changed by a refused restore: %d notes", got)
	}
}

// TestBadEncryptionKeysRefuseToStart: keys that do not parse stop the host
// at start, with an error that does not quote them.
func TestBadEncryptionKeysRefuseToStart(t *testing.T) {
	bad := "AGE-SECRET-KEY-1NOTAREALKEYBUTSECRETLOOKING\n"
	_, err := host.New(context.Background(), host.Config{DataDir: t.TempDir(), PluginsDir: pluginDir, Auth: newEnvAuth(t), EncryptionKeys: bad})
	if err == nil || strings.Contains(err.Error(), "NOTAREALKEY") || !strings.Contains(err.Error(), "encryption keys") {
		t.Fatalf("New with bad keys: %v", err)
	}
}

// TestKeysComeOnlyFromConfig: a POCKETBACKUP_ENCRYPTION_KEYS in the host's
// own environment (which the POCKETBACKUP_* rule would pass on) does not
// reach the plugin: without Config.EncryptionKeys backups stay plain zips.
func TestKeysComeOnlyFromConfig(t *testing.T) {
	t.Setenv("POCKETBACKUP_ENCRYPTION_KEYS", genKeys(t))
	e := newEnv(t)
	e.createAndWait("plain.zip")
	stored, err := os.ReadFile(filepath.Join(e.dataDir, "backups", "plain.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored, []byte("PK\x03\x04")) {
		t.Fatalf("a host without keys stored %q…", stored[:min(len(stored), 22)])
	}
}
