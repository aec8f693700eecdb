package host_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
	_ "modernc.org/sqlite"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/auth"
)

// pluginDir holds the real plugin binary, built once for the package.
var pluginDir string

func TestMain(m *testing.M) {
	if code, ok := host.RunChecker(); ok {
		os.Exit(code) // a restore's database checker, as in an app's main
	}
	if os.Getenv("DIAL_SOCKET") != "" {
		os.Exit(m.Run()) // the helper process of TestPluginSocketIsPrivate
	}
	dir, err := os.MkdirTemp("", "host-test-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildPlugin(dir); err != nil {
		fmt.Fprintln(os.Stderr, "build plugin:", err)
		os.Exit(1)
	}
	pluginDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildPlugin builds the plugin binary into dir with its .sha256 file.
func buildPlugin(dir string) error {
	bin := filepath.Join(dir, "pocketbackup-plugin")
	cmd := exec.Command("go", "build", "-o", bin, "../plugin/cmd/pocketbackup-plugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	return writeChecksum(bin)
}

func writeChecksum(bin string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	return os.WriteFile(bin+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+filepath.Base(bin)+"\n"), 0o644)
}

// memStore is a real in-memory auth.Store.
type memStore struct {
	mu      sync.Mutex
	records map[string]auth.Record // by collectionID + "/" + id
}

func (s *memStore) put(rec auth.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[rec.CollectionID+"/"+rec.ID] = rec
}

func (s *memStore) FindByEmail(_ context.Context, collectionID, email string) (auth.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.CollectionID == collectionID && strings.EqualFold(r.Email, email) {
			return r, nil
		}
	}
	return auth.Record{}, auth.ErrNotFound
}

func (s *memStore) FindByID(_ context.Context, collectionID, id string) (auth.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.records[collectionID+"/"+id]; ok {
		return r, nil
	}
	return auth.Record{}, auth.ErrNotFound
}

var usersCollection = auth.Collection{ID: "_pb_users_auth_", Name: "users", TokenTTL: 7 * 24 * time.Hour}

// env is a running host with a superuser and a plain user.
type env struct {
	t         *testing.T
	host      *host.Host
	auth      *auth.Service
	server    *httptest.Server
	dataDir   string
	superTok  string
	userTok   string
	superFile string
	userFile  string
	cfg       host.Config
	router    *httprouter.Router
}

// newEnv starts a host over a real SQLite data dir and the real plugin.
func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with a chance to change the host's config.
func newEnvWith(t *testing.T, configure func(*host.Config)) *env {
	return newEnvWithAuth(t, configure)
}

// newEnvWithAuth is newEnvWith with more options for the auth service.
func newEnvWithAuth(t *testing.T, configure func(*host.Config), authOpts ...auth.Option) *env {
	t.Helper()
	dataDir := t.TempDir()
	makeDatabase(t, filepath.Join(dataDir, "data.db"), 50)
	makeDatabase(t, filepath.Join(dataDir, "auxiliary.db"), 5)
	if err := os.MkdirAll(filepath.Join(dataDir, "storage", "col1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "storage", "col1", "f.txt"), []byte("uploaded file"), 0o644); err != nil {
		t.Fatal(err)
	}

	store := &memStore{records: map[string]auth.Record{}}
	hash, err := auth.HashPasswordCost("secret-password", 4)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	super := auth.Record{ID: "superuser000001", CollectionID: auth.SuperusersID, CollectionName: auth.SuperusersName,
		Email: "admin@example.com", PasswordHash: hash, TokenKey: auth.NewTokenKey(), Created: now, Updated: now}
	user := auth.Record{ID: "user00000000001", CollectionID: usersCollection.ID, CollectionName: usersCollection.Name,
		Email: "user@example.com", PasswordHash: hash, TokenKey: auth.NewTokenKey(), Created: now, Updated: now}
	store.put(super)
	store.put(user)
	authSvc := auth.New(store, []byte(strings.Repeat("s", 32)), []auth.Collection{auth.Superusers(), usersCollection},
		append([]auth.Option{auth.WithBcryptCost(4)}, authOpts...)...)

	cfg := host.Config{
		DataDir:    dataDir,
		PluginsDir: pluginDir,
		Auth:       authSvc,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	router := httprouter.New()
	authSvc.Register(router)
	h.Register(router)
	srv := httptest.NewServer(router)
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(); err != nil {
			t.Errorf("host close: %v", err)
		}
	})
	e := &env{t: t, host: h, auth: authSvc, server: srv, dataDir: dataDir, cfg: cfg, router: router}
	e.superTok = mustToken(t, authSvc.NewAuthToken, super)
	e.userTok = mustToken(t, authSvc.NewAuthToken, user)
	e.superFile = mustToken(t, authSvc.NewFileToken, super)
	e.userFile = mustToken(t, authSvc.NewFileToken, user)
	return e
}

func mustToken(t *testing.T, f func(auth.Record) (string, error), rec auth.Record) string {
	t.Helper()
	tok, err := f(rec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// makeDatabase creates a WAL-mode SQLite database with rows notes.
func makeDatabase(t *testing.T, path string, rows int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if _, err := db.Exec(`INSERT INTO notes (title) VALUES (?)`, fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// do sends a request and returns status, body and headers.
func (e *env) do(method, path, token, contentType string, body io.Reader) (int, string, http.Header) {
	e.t.Helper()
	return e.doWith(method, path, token, contentType, nil, body)
}

// doWith is do with more request headers.
func (e *env) doWith(method, path, token, contentType string, header map[string]string, body io.Reader) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.server.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(data), resp.Header
}

// health returns the superuser's view of /api/health data.
func (e *env) health() map[string]any {
	e.t.Helper()
	_, body, _ := e.do("GET", "/api/health", e.superTok, "", nil)
	var resp struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		e.t.Fatalf("health: %v in %s", err, body)
	}
	return resp.Data
}

// waitIdle polls /api/health until no operation runs and returns the last
// operation's outcome.
func (e *env) waitIdle() map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data := e.health()
		if data["canBackup"] == true {
			last, _ := data["lastOperation"].(map[string]any)
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatal("operation did not finish in 30s")
	return nil
}

func fmtInt(i int) string { return fmt.Sprint(i) }

// newEnvAuth is an auth service with no records, for host.New calls that
// are expected to fail before serving.
func newEnvAuth(t *testing.T) *auth.Service {
	t.Helper()
	return auth.New(&memStore{records: map[string]auth.Record{}}, []byte(strings.Repeat("s", 32)), []auth.Collection{auth.Superusers()})
}

// patchSettings sends PATCH /api/settings as the superuser.
func (e *env) patchSettings(body string) (int, string) {
	e.t.Helper()
	status, got, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(body))
	return status, got
}
