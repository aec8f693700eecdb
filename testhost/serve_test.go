package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWriter passes each complete line written to it on to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default: // nobody reads that many lines: drop
		}
		w.buf = w.buf[i+1:]
	}
}

// buildPlugin builds the backup plugin into a fresh plugins directory with
// its .sha256 file, as an operator installs it.
func buildPlugin(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain on PATH to build the plugin")
	}
	dir := filepath.Join(t.TempDir(), "plugins")
	bin := filepath.Join(dir, "pocketbackup-plugin")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "github.com/pocketbackup/pocketbackup/plugin/cmd/pocketbackup-plugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if err := os.WriteFile(bin+".sha256", []byte(hex.EncodeToString(sum[:])+"  pocketbackup-plugin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServeEndToEnd runs "testhost serve" with the real plugin: first-start
// credentials, login, notes, the host's routes, a backup of both databases
// and a clean shutdown.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin")
	}
	pluginsDir := buildPlugin(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout := &lineWriter{lines: make(chan string, 100)}
	var stderr bytes.Buffer
	var stderrMu sync.Mutex
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--http=127.0.0.1:0", "--dir=" + dataDir, "--plugins=" + pluginsDir},
			env(nil), stdout, &lockedWriter{mu: &stderrMu, w: &stderr})
	}()
	dumpStderr := func() string {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.String()
	}

	// Read stdout up to the listening URL: the credentials come first.
	var printed []string
	var baseURL string
	timeout := time.After(60 * time.Second)
	for baseURL == "" {
		select {
		case line := <-stdout.lines:
			printed = append(printed, line)
			if u, ok := strings.CutPrefix(line, "Server started at "); ok {
				baseURL = u
			}
		case code := <-exited:
			t.Fatalf("serve exited with %d before listening\nstdout %q\nstderr %s", code, printed, dumpStderr())
		case <-timeout:
			t.Fatalf("serve did not start\nstdout %q\nstderr %s", printed, dumpStderr())
		}
	}
	out := strings.Join(printed, "\n")
	m := regexp.MustCompile(`email:\s+(\S+)\n\s+password:\s+(\S+)\n\s+URL:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil || m[3] != baseURL {
		t.Fatalf("first start did not print the credentials and URL:\n%s", out)
	}
	email, password := m[1], m[2]

	call := func(method, path, token, body string) (int, []byte) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, baseURL+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	status, body := call("POST", "/api/collections/_superusers/auth-with-password", "",
		`{"identity":"`+email+`","password":"`+password+`"}`)
	if status != 200 {
		t.Fatalf("login with the printed credentials: %d %s", status, body)
	}
	var login struct{ Token string }
	if err := json.Unmarshal(body, &login); err != nil {
		t.Fatal(err)
	}
	token := login.Token

	if status, body := call("POST", notesPath, token, `{"title":"before backup"}`); status != 200 {
		t.Fatalf("create note: %d %s", status, body)
	}
	if status, body := call("GET", "/api/health", "", ""); status != 200 || !strings.Contains(string(body), "API is healthy.") {
		t.Errorf("health: %d %s", status, body)
	}
	if status, body := call("GET", "/api/backups", "", ""); status != 401 {
		t.Errorf("backups without auth: %d %s", status, body)
	}
	if status, body := call("GET", "/api/backups", token, ""); status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("empty backups list: %d %s", status, body)
	}
	if status, body := call("POST", "/api/backups", token, `{"name":"e2e.zip"}`); status != 204 {
		t.Fatalf("create backup: %d %s", status, body)
	}
	// The backup is built in the background; health tells when it is done.
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body := call("GET", "/api/health", token, "")
		var h struct {
			Data struct {
				CanBackup     bool `json:"canBackup"`
				LastOperation *struct {
					Key   string `json:"key"`
					OK    bool   `json:"ok"`
					Error string `json:"error"`
				} `json:"lastOperation"`
			} `json:"data"`
		}
		if status != 200 || json.Unmarshal(body, &h) != nil {
			t.Fatalf("health: %d %s", status, body)
		}
		if h.Data.CanBackup && h.Data.LastOperation != nil {
			if h.Data.LastOperation.Key != "e2e.zip" || !h.Data.LastOperation.OK {
				t.Fatalf("backup outcome: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup not finished: %s\nstderr %s", body, dumpStderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body := call("GET", "/api/backups", token, ""); status != 200 || !strings.Contains(string(body), `"key":"e2e.zip"`) {
		t.Errorf("backups list after create: %d %s", status, body)
	}

	cancel()
	select {
	case code := <-exited:
		if code != exitOK {
			t.Errorf("serve exited with %d\nstderr %s", code, dumpStderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}

	// The superuser created on the first start is kept: no new credentials.
	a, err := openApp(t.Context(), dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n, err := countSuperusers(t.Context(), a.db); err != nil || n != 1 {
		t.Errorf("superusers after the run: %d, %v", n, err)
	}
	var logged int
	if err := a.auxDB.QueryRowContext(t.Context(), `SELECT count(*) FROM _logs`).Scan(&logged); err != nil || logged == 0 {
		t.Errorf("no request logged in auxiliary.db: %d, %v", logged, err)
	}

	// The archive holds both databases, with the note written before it.
	checkBackup(t, filepath.Join(dataDir, "backups", "e2e.zip"))
}

// checkBackup opens the backup zip at path and checks that its data.db has
// the note and its auxiliary.db the request logs.
func checkBackup(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer zr.Close()
	dir := t.TempDir()
	found := map[string]bool{}
	for _, f := range zr.File {
		if f.Name != dataDBName && f.Name != auxDBName {
			continue
		}
		found[f.Name] = true
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !found[dataDBName] || !found[auxDBName] {
		t.Fatalf("backup entries lack a database: %v", found)
	}
	restored, err := openApp(t.Context(), dir)
	if err != nil {
		t.Fatalf("open the backup's databases: %v", err)
	}
	defer restored.Close()
	var title string
	if err := restored.db.QueryRowContext(t.Context(), `SELECT title FROM notes`).Scan(&title); err != nil || title != "before backup" {
		t.Errorf("note in the backup: %q, %v", title, err)
	}
	var logged int
	if err := restored.auxDB.QueryRowContext(t.Context(), `SELECT count(*) FROM _logs`).Scan(&logged); err != nil || logged == 0 {
		t.Errorf("request logs in the backup: %d, %v", logged, err)
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
