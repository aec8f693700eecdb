package host_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets placed around the backups store: no answer may ever carry them.
const (
	secretInside  = "SECRET-INSIDE-PB-DATA-6d1f"
	secretOutside = "SECRET-OUTSIDE-PB-DATA-93ab"
	secretTemp    = "SECRET-TEMP-FILE-20c4"
	secretSidecar = "SECRET-SIDECAR-77e0"
)

// hostileKeys are URL path segments (already escaped as a client would
// send them) that try to leave the backups store or name something in it
// that is not a backup.
var hostileKeys = []string{
	"",
	".",
	"..",
	"../data.db",
	"../secret.txt",
	"../../outside.txt",
	"..%2Fdata.db",
	"..%2F..%2Foutside.txt",
	"%2e%2e",
	"%2e%2e%2fdata.db",
	"%2E%2E%2Fsecret.txt",
	".%2e/data.db",
	"%252e%252e%252fdata.db", // double-encoded: one decoding gives a harmless, missing name
	"..%5Cdata.db",
	"..%5C..%5Coutside.txt",
	"%5Cetc%5Cpasswd",
	"%2Fetc%2Fpasswd",
	"/etc/passwd",
	"real.zip%2F..%2F..%2Fdata.db",
	"real.zip/",
	"real.zip%00",
	"real.zip%00.txt",
	"%00",
	"data.db%00",
	"%c0%ae%c0%ae%2fdata.db",      // overlong UTF-8 dots
	"%EF%BC%8F..%EF%BC%8Fdata.db", // fullwidth solidus: a plain (missing) name
	".tmp-secret",
	".hidden.zip",
	".attrs",
	"real.zip.attrs",
	"link.zip", // a symlink inside the store pointing at ../secret.txt
	strings.Repeat("a", 296) + ".zip",
	strings.Repeat("a", 251) + ".zip", // the longest valid key; missing
	strings.Repeat("%2e%2e%2f", 40) + "data.db",
}

// hostileStore is an env whose data directory has secrets inside and next
// to it, and whose backups store holds one real backup, a temp file, a
// sidecar and a symlink.
func hostileStore(t *testing.T, e *env) {
	t.Helper()
	up, upType := multipartBody("file", "real.zip", zipOf(t, map[string]string{"storage/x": "x"}))
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatal(status, body)
	}
	store := filepath.Join(e.dataDir, "backups")
	for path, content := range map[string]string{
		filepath.Join(e.dataDir, "secret.txt"):                    secretInside,
		filepath.Join(filepath.Dir(e.dataDir), "outside.txt"):     secretOutside,
		filepath.Join(store, ".tmp-secret"):                       secretTemp,
		filepath.Join(store, "real.zip.attrs"):                    secretSidecar,
		filepath.Join(filepath.Dir(e.dataDir), "backups-outside"): secretOutside, // prefix neighbour of the store
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join("..", "secret.txt"), filepath.Join(store, "link.zip")); err != nil {
		t.Fatal(err)
	}
}

// assertNoSecret fails when body carries any file content it must not.
func assertNoSecret(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range []string{secretInside, secretOutside, secretTemp, secretSidecar, "SQLite format 3", "root:x:0:0", "PK\x03\x04"} {
		if strings.Contains(body, s) {
			t.Fatalf("%s: body leaks %q: %.200q", what, s, body)
		}
	}
}

// assertAPIError checks the contract's error shape with a wanted status.
func assertAPIError(t *testing.T, what string, status int, body string, hdr http.Header, want ...int) {
	t.Helper()
	ok := false
	for _, w := range want {
		ok = ok || status == w
	}
	if !ok {
		t.Fatalf("%s: status %d, want one of %v; body %.300q", what, status, want, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json; body %.300q", what, ct, body)
	}
	var e struct {
		Status  int             `json:"status"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != status || e.Message == "" ||
		!strings.HasSuffix(e.Message, ".") || !strings.HasPrefix(string(e.Data), "{") {
		t.Fatalf("%s: not the contract's error shape (%v): %s", what, err, body)
	}
}

// rawDo sends a request whose path is sent exactly as given.
func (e *env) rawDo(method, escapedPath, token string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.server.URL+"/", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	path, query, _ := strings.Cut(escapedPath, "?")
	req.URL.Opaque = path // sent verbatim: no client-side cleaning or re-escaping
	req.URL.RawQuery = query
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, escapedPath, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(data), resp.Header
}

// TestHostileKeysNeverReachOutside sends every hostile key to the download
// (with a valid superuser file token), delete and restore routes: each is
// answered 404 (restore: 400) in the contract's JSON shape, never with a
// file, and nothing is deleted, restored or locked.
func TestHostileKeysNeverReachOutside(t *testing.T) {
	re := newRestoreEnv(t, nil)
	e := re.env
	hostileStore(t, e)
	for _, key := range hostileKeys {
		name := key
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD"} {
				status, body, hdr := e.rawDo(method, "/api/backups/"+key+"?token="+e.superFile, "")
				if method == "HEAD" {
					if status != 404 || body != "" {
						t.Fatalf("HEAD %q: %d %.200q", key, status, body)
					}
					continue
				}
				assertAPIError(t, "download "+key, status, body, hdr, 404)
				assertNoSecret(t, "download "+key, body)
			}
			status, body, hdr := e.rawDo("DELETE", "/api/backups/"+key, e.superTok)
			assertAPIError(t, "delete "+key, status, body, hdr, 404)
			assertNoSecret(t, "delete "+key, body)

			status, body, hdr = e.rawDo("POST", "/api/backups/"+key+"/restore", e.superTok)
			assertAPIError(t, "restore "+key, status, body, hdr, 400, 404)
			assertNoSecret(t, "restore "+key, body)
		})
	}
	if re.shutdowns != 0 {
		t.Fatalf("a hostile key shut the app down %d times", re.shutdowns)
	}
	if h := e.health(); h["canBackup"] != true || h["lastOperation"] != nil {
		t.Fatalf("a hostile key started an operation: %v", h)
	}
	// Nothing was deleted, inside the store or out of it.
	store := filepath.Join(e.dataDir, "backups")
	for _, p := range []string{
		filepath.Join(e.dataDir, "data.db"), filepath.Join(e.dataDir, "secret.txt"),
		filepath.Join(filepath.Dir(e.dataDir), "outside.txt"), filepath.Join(store, "real.zip"),
		filepath.Join(store, ".tmp-secret"), filepath.Join(store, "real.zip.attrs"), filepath.Join(store, "link.zip"),
	} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	// The list shows the one real backup only.
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	var list []struct{ Key string }
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil || len(list) != 1 || list[0].Key != "real.zip" {
		t.Fatalf("list = %d %s (%v)", status, body, err)
	}
	// The real backup still downloads the same way: the refusals above are
	// about the keys, not the requests.
	if status, body, _ := e.rawDo("GET", "/api/backups/real.zip?token="+e.superFile, ""); status != 200 || !strings.HasPrefix(body, "PK") {
		t.Fatalf("real.zip download: %d %.40q", status, body)
	}
}

// TestUploadRefusesInvisibleCharacters: a C1 control or a format character
// (a bidirectional override, a zero-width space) in an uploaded file's name
// is refused like any control character, by the one key rule, and nothing
// is stored.
func TestUploadRefusesInvisibleCharacters(t *testing.T) {
	e := newEnv(t)
	good := zipOf(t, map[string]string{"data.db": "db"})
	for _, name := range []string{"a\u0085.zip", "a\u009b.zip", "evil\u202egpj.zip", "a\u200b.zip", "\ufeffa.zip"} {
		body, ct := multipartBody("file", name, good)
		status, resp, hdr := e.do("POST", "/api/backups/upload", e.superTok, ct, bytes.NewReader(body(t)))
		assertAPIError(t, "upload "+name, status, resp, hdr, 400)
		if !strings.Contains(resp, `"file"`) || !strings.Contains(resp, "validation_invalid_file_name") {
			t.Fatalf("upload %q: %s", name, resp)
		}
	}
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("list after refused uploads: %d %s", status, body)
	}
}
