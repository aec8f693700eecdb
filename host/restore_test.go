package host_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host"
)

// restoreEnv is a host whose restart is simulated: Restart signals
// restarted, and restartHost plays the new process.
type restoreEnv struct {
	*env
	shutdowns int
	restarted chan struct{}
}

func newRestoreEnv(t *testing.T, onShutdown func(e *restoreEnv)) *restoreEnv {
	t.Helper()
	return newRestoreEnvWith(t, onShutdown, nil)
}

// newRestoreEnvWith is newRestoreEnv with a chance to change the config.
func newRestoreEnvWith(t *testing.T, onShutdown func(e *restoreEnv), configure func(*host.Config)) *restoreEnv {
	t.Helper()
	re := &restoreEnv{restarted: make(chan struct{}, 1)}
	re.env = newEnvWith(t, func(cfg *host.Config) {
		cfg.Shutdown = func(context.Context) error {
			re.shutdowns++
			if onShutdown != nil {
				onShutdown(re)
			}
			return nil
		}
		cfg.Restart = func() error {
			re.restarted <- struct{}{}
			return nil
		}
		if configure != nil {
			configure(cfg)
		}
	})
	return re
}

// waitRestart waits for the simulated re-exec.
func (re *restoreEnv) waitRestart() {
	re.t.Helper()
	select {
	case <-re.restarted:
	case <-time.After(30 * time.Second):
		re.t.Fatalf("no restart within 30s; health %v", re.health())
	}
}

// restartHost plays the process after exec: Recover, then a new Host on
// the same data dir, served by a new test server. It returns the new env.
func (re *restoreEnv) restartHost() *env {
	re.t.Helper()
	host.ReleaseDataDir(re.host) // the old process is gone
	if err := host.Recover(context.Background(), re.dataDir, nil); err != nil {
		re.t.Fatal(err)
	}
	h, err := host.New(context.Background(), re.cfg)
	if err != nil {
		re.t.Fatal(err)
	}
	router := httprouter.New()
	re.auth.Register(router)
	h.Register(router)
	srv := httptest.NewServer(router)
	re.t.Cleanup(func() {
		srv.Close()
		_ = h.Close()
	})
	next := *re.env
	next.host, next.server = h, srv
	return &next
}

func countNotes(t *testing.T, dbPath string) int {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func addNotes(t *testing.T, dbPath string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range n {
		if _, err := db.Exec(`INSERT INTO notes (title) VALUES ('later')`); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) createAndWait(name string) {
	e.t.Helper()
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"`+name+`"}`)); status != 204 {
		e.t.Fatal(status, body)
	}
	if last := e.waitIdle(); last["ok"] != true {
		e.t.Fatalf("create %s: %v", name, last)
	}
}

// TestRestoreRoundTrip: back up, change the data, restore; after the
// restart the data is the backup's, the plugin is the same process, and
// health reports the restore's success.
func TestRestoreRoundTrip(t *testing.T) {
	re := newRestoreEnv(t, nil)
	dbPath := filepath.Join(re.dataDir, "data.db")
	re.createAndWait("before.zip")
	addNotes(t, dbPath, 7)
	if err := os.WriteFile(filepath.Join(re.dataDir, "storage", "col1", "new-after-backup.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := re.host.PluginPID()

	if status, body, _ := re.do("POST", "/api/backups/before.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	if re.shutdowns != 1 {
		t.Fatalf("app shut down %d times", re.shutdowns)
	}
	next := re.restartHost()
	if got := countNotes(t, dbPath); got != 50 {
		t.Fatalf("notes after restore = %d, want the backup's 50", got)
	}
	if _, err := os.Stat(filepath.Join(re.dataDir, "storage", "col1", "new-after-backup.txt")); !os.IsNotExist(err) {
		t.Fatalf("a file written after the backup survived the restore: %v", err)
	}
	if _, err := os.Stat(filepath.Join(re.dataDir, "backups", "before.zip")); err != nil {
		t.Fatalf("the backups folder must stay: %v", err)
	}
	if got := next.host.PluginPID(); got != pid {
		t.Fatalf("plugin pid %d after restart, want the same %d", got, pid)
	}
	last, _ := next.health()["lastOperation"].(map[string]any)
	if last["kind"] != "restore" || last["ok"] != true || last["key"] != "before.zip" {
		t.Fatalf("lastOperation = %v", last)
	}
	// The reattached plugin works, and the old data is deleted once the
	// app is up.
	if status, body, _ := next.do("GET", "/api/backups", next.superTok, "", nil); status != 200 || !strings.Contains(body, "before.zip") {
		t.Fatal(status, body)
	}
	waitEmptyDir(t, filepath.Join(re.dataDir, ".pb_temp_to_delete"))
}

// waitEmptyDir waits up to 10 s for dir to be empty.
func waitEmptyDir(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %d entries 10 s after start", dir, len(left))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestorePluginKilledBeforeRestart: the plugin dies between staging
// and the restart; the new process starts a fresh plugin and the restore
// still succeeds.
func TestRestorePluginKilledBeforeRestart(t *testing.T) {
	re := newRestoreEnv(t, func(re *restoreEnv) {
		if err := syscall.Kill(re.host.PluginPID(), syscall.SIGKILL); err != nil {
			re.t.Error(err)
		}
	})
	re.createAndWait("b.zip")
	addNotes(t, filepath.Join(re.dataDir, "data.db"), 3)
	pid := re.host.PluginPID()
	if status, body, _ := re.do("POST", "/api/backups/b.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if got := countNotes(t, filepath.Join(re.dataDir, "data.db")); got != 50 {
		t.Fatalf("notes = %d, want 50", got)
	}
	if status, body, _ := next.do("GET", "/api/backups", next.superTok, "", nil); status != 200 || !strings.Contains(body, "b.zip") {
		t.Fatal(status, body)
	}
	if got := next.host.PluginPID(); got == pid || got <= 0 {
		t.Fatalf("plugin pid %d, want a fresh one (old %d)", got, pid)
	}
}

// TestRestoreRefusals covers the answers before anything starts.
func TestRestoreRefusals(t *testing.T) {
	re := newRestoreEnv(t, nil)
	noDB, noDBType := multipartBody("file", "nodb.zip", zipOf(t, map[string]string{"storage/x": "x"}))
	if status, body, _ := re.do("POST", "/api/backups/upload", re.superTok, noDBType, bytes.NewReader(noDB(t))); status != 204 {
		t.Fatal(status, body)
	}
	invalid := `{"status":400,"message":"Missing or invalid backup file.","data":{}}`
	runScenarios(t, re.env, []scenario{
		{name: "no auth", method: "POST", path: "/api/backups/nodb.zip/restore", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "POST", path: "/api/backups/nodb.zip/restore", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "missing", method: "POST", path: "/api/backups/missing.zip/restore", token: "super", wantStatus: 400, wantBody: invalid},
		{name: "no data.db", method: "POST", path: "/api/backups/nodb.zip/restore", token: "super", wantStatus: 400, wantBody: invalid},
		{name: "hidden key", method: "POST", path: "/api/backups/.x/restore", token: "super", wantStatus: 400, wantBody: invalid},
		{name: "encoded slash", method: "POST", path: "/api/backups/a%2Fb/restore", token: "super", wantStatus: 400, wantBody: invalid},
	})
	if re.shutdowns != 0 {
		t.Fatal("a refused restore shut the app down")
	}
}

// TestRestoreBusy: a restore while a create runs is refused.
func TestRestoreBusy(t *testing.T) {
	re := newRestoreEnv(t, nil)
	re.createAndWait("first.zip")
	release, reached := make(chan struct{}), make(chan struct{})
	host.SetBeforeArchive(re.host, func() { close(reached); <-release })
	if status, body, _ := re.do("POST", "/api/backups", re.superTok, "application/json", strings.NewReader(`{"name":"second.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	<-reached
	runScenarios(t, re.env, []scenario{
		{name: "busy", method: "POST", path: "/api/backups/first.zip/restore", token: "super", wantStatus: 400, wantBody: bodyBusy},
	})
	close(release)
	re.waitIdle()
}

// TestRestoreBrokenDatabase: an archive whose data.db is not a database is
// refused while staging; the app is never stopped and keeps its data.
func TestRestoreBrokenDatabase(t *testing.T) {
	re := newRestoreEnv(t, nil)
	bad, badType := multipartBody("file", "broken.zip", zipOf(t, map[string]string{"data.db": "this is not sqlite"}))
	if status, body, _ := re.do("POST", "/api/backups/upload", re.superTok, badType, bytes.NewReader(bad(t))); status != 204 {
		t.Fatal(status, body)
	}
	if status, body, _ := re.do("POST", "/api/backups/broken.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	last := re.waitIdle()
	if last["ok"] != false || last["kind"] != "restore" || !strings.Contains(last["error"].(string), "not a valid archive") {
		t.Fatalf("lastOperation = %v", last)
	}
	if re.shutdowns != 0 {
		t.Fatal("the app was stopped for a broken backup")
	}
	if got := countNotes(t, filepath.Join(re.dataDir, "data.db")); got != 50 {
		t.Fatalf("notes = %d, want the untouched 50", got)
	}
	left, _ := os.ReadDir(filepath.Join(re.dataDir, ".pb_temp_to_delete"))
	if len(left) != 0 {
		t.Fatalf("staging left behind: %d entries", len(left))
	}
	// The outcome is persisted: a restart still shows it.
	next := re.restartHost()
	if last, _ := next.health()["lastOperation"].(map[string]any); last["ok"] != false || last["kind"] != "restore" {
		t.Fatalf("lastOperation after restart = %v", last)
	}
}

// TestRestoreKeepsExcluded: a restore leaves the operator's top-level
// excluded entries as they are (they are not in the backup, and must not
// go with the old data), while a nested excluded path goes with its
// top-level folder, which the backup's copy replaces (as Config.Exclude
// says).
func TestRestoreKeepsExcluded(t *testing.T) {
	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) {
		cfg.Exclude = []string{"cache", "./media/", "storage/thumbs"}
	})
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(re.dataDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cache/a.txt", "before the backup")
	write("media/m.txt", "media")
	write("storage/thumbs/t.txt", "thumb")
	re.createAndWait("excl.zip")
	write("cache/a.txt", "after the backup")
	write("cache/b.txt", "new after the backup")

	if status, body, _ := re.do("POST", "/api/backups/excl.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if last, _ := next.health()["lastOperation"].(map[string]any); last["ok"] != true {
		t.Fatalf("restore: %v", last)
	}
	waitEmptyDir(t, filepath.Join(re.dataDir, ".pb_temp_to_delete"))
	for rel, want := range map[string]string{
		"cache/a.txt":        "after the backup",
		"cache/b.txt":        "new after the backup",
		"media/m.txt":        "media",
		"storage/col1/f.txt": "uploaded file",
	} {
		got, err := os.ReadFile(filepath.Join(re.dataDir, filepath.FromSlash(rel)))
		if err != nil || string(got) != want {
			t.Errorf("%s after the restore: %q, %v; want %q", rel, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(re.dataDir, "storage", "thumbs")); !os.IsNotExist(err) {
		t.Errorf("storage/thumbs (a nested exclude) after the restore: %v, want it gone with the old storage", err)
	}
}

// TestRestoreRestartFailedIsTold: when the re-exec fails the host never
// exits the process itself; it tells Config.RestartFailed, with the error.
func TestRestoreRestartFailedIsTold(t *testing.T) {
	failed := make(chan error, 1)
	re := newRestoreEnvWith(t, nil, func(cfg *host.Config) {
		cfg.Restart = func() error { return errExec }
		cfg.RestartFailed = func(err error) { failed <- err }
	})
	re.createAndWait("before.zip")
	if status, body, _ := re.do("POST", "/api/backups/before.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	select {
	case err := <-failed:
		if !errors.Is(err, errExec) {
			t.Fatalf("RestartFailed(%v), want the restart's error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("RestartFailed not called; health %v", re.health())
	}
}

// TestRestoreRechecksWhatChangedAfterStaging: the staged databases are
// checked and stamped before the app stops, and the next start checks
// again only what no longer matches its stamp. A data.db damaged after
// its check (here, while the app shuts down) no longer matches, is checked
// at start, fails, and the old data comes back.
func TestRestoreRechecksWhatChangedAfterStaging(t *testing.T) {
	re := newRestoreEnv(t, func(re *restoreEnv) {
		staged, err := filepath.Glob(filepath.Join(re.dataDir, ".pb_temp_to_delete", "restore-*", "staged", "data.db"))
		if err != nil || len(staged) != 1 {
			re.t.Errorf("staged data.db: %v %v", staged, err)
			return
		}
		damageLastPage(re.t, staged[0])
	})
	dbPath := filepath.Join(re.dataDir, "data.db")
	re.createAndWait("b.zip")
	addNotes(t, dbPath, 4)
	if status, body, _ := re.do("POST", "/api/backups/b.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	next := re.restartHost()
	if got := countNotes(t, dbPath); got != 54 {
		t.Fatalf("notes = %d, want the old data's 54 back", got)
	}
	last, _ := next.health()["lastOperation"].(map[string]any)
	if last["kind"] != "restore" || last["ok"] != false || !strings.Contains(last["error"].(string), "failed verification") {
		t.Fatalf("lastOperation = %v", last)
	}
}

// damageLastPage overwrites the last 4 KiB page of the SQLite file at path
// with bytes no b-tree page can hold.
func damageLastPage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("\x0d\xff\xff\xff\x00\x07"), 4096/6+1)[:4096]
	if _, err := f.WriteAt(junk, info.Size()-4096); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreReattachDoesNotHashThePlugin: the process after a restore's
// re-exec takes over the running plugin without reading the plugin binary
// (the app is down meanwhile); the binary is checked when a plugin is
// launched, so a relaunch with a wrong checksum is still refused.
func TestRestoreReattachDoesNotHashThePlugin(t *testing.T) {
	re := newRestoreEnv(t, nil)
	re.createAndWait("b.zip")
	pid := re.host.PluginPID()
	if status, body, _ := re.do("POST", "/api/backups/b.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	re.cfg.PluginSHA256 = strings.Repeat("00", 32) // not the binary's
	next := re.restartHost()
	if got := next.host.PluginPID(); got != pid {
		t.Fatalf("plugin pid %d after restart, want the same %d", got, pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, _ := next.do("GET", "/api/backups", next.superTok, "", nil)
		if status >= 500 {
			break // the relaunch was refused
		}
		if time.Now().After(deadline) {
			t.Fatalf("a plugin with a wrong checksum was launched: %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := next.host.PluginPID(); got > 0 && got != pid {
		t.Fatalf("plugin %d launched from a binary with a wrong checksum", got)
	}
}

// TestRestoreChecksDatabasesWhileExtracting: the staged databases are
// checked from the moment the plugin says the archive's root files are
// written, not after the whole extraction.
func TestRestoreChecksDatabasesWhileExtracting(t *testing.T) {
	re := newRestoreEnv(t, nil)
	var starts []bool
	host.SetStagedCheckStarted(re.host, func(duringExtraction bool) { starts = append(starts, duringExtraction) })
	re.createAndWait("b.zip")
	if status, body, _ := re.do("POST", "/api/backups/b.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, body)
	}
	re.waitRestart()
	if len(starts) != 1 || !starts[0] {
		t.Fatalf("check starts (true: during the extraction) = %v, want [true]", starts)
	}
	re.restartHost()
}

// TestRestoreExtractionFailsAfterTheCheckStarted: the databases were
// written and their check started, then a later entry turns out corrupt:
// the restore fails on the extraction, the app keeps its data and no
// staging is left.
func TestRestoreExtractionFailsAfterTheCheckStarted(t *testing.T) {
	re := newRestoreEnv(t, nil)
	var starts []bool
	host.SetStagedCheckStarted(re.host, func(duringExtraction bool) { starts = append(starts, duringExtraction) })
	db, err := os.ReadFile(filepath.Join(re.dataDir, "auxiliary.db"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		body []byte
	}{{"data.db", db}, {"storage/col1/x.txt", []byte("the bytes of a file in a folder")}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body) //nolint:errcheck // a bytes.Buffer
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	z := buf.Bytes()
	i := bytes.Index(z, []byte("the bytes of a file"))
	z[i] ^= 0xff // its CRC-32 no longer matches
	body, ctype := multipartBody("file", "late.zip", z)
	if status, got, _ := re.do("POST", "/api/backups/upload", re.superTok, ctype, bytes.NewReader(body(t))); status != 204 {
		t.Fatal(status, got)
	}
	if status, got, _ := re.do("POST", "/api/backups/late.zip/restore", re.superTok, "", nil); status != 204 {
		t.Fatal(status, got)
	}
	last := re.waitIdle()
	if last["ok"] != false || !strings.Contains(last["error"].(string), "not a valid archive") {
		t.Fatalf("lastOperation = %v", last)
	}
	if len(starts) != 1 || !starts[0] {
		t.Fatalf("check starts = %v, want one during the extraction", starts)
	}
	if re.shutdowns != 0 {
		t.Fatal("the app was stopped for a backup that failed to extract")
	}
	if got := countNotes(t, filepath.Join(re.dataDir, "data.db")); got != 50 {
		t.Fatalf("notes = %d, want the untouched 50", got)
	}
	waitEmptyDir(t, filepath.Join(re.dataDir, ".pb_temp_to_delete"))
}
