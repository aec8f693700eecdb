package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a testhost binary running serve.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dataDir string
	log     *syncBuffer
	token   string
}

// syncBuffer is a bytes.Buffer safe for the two output copiers of a process.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	e2eEmail    = "restore-admin@example.com"
	e2ePassword = "restore-password-1"
)

// built holds the binaries the end-to-end tests share, built once.
var built struct {
	once       sync.Once
	dir        string
	testhost   string
	pluginsDir string
	err        error
}

// binaries builds testhost and the plugin (with its .sha256) once for the
// package and returns their paths.
func binaries(t *testing.T) (testhost, pluginsDir string) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "testhost-e2e-")
		if built.err != nil {
			return
		}
		built.testhost = filepath.Join(built.dir, "testhost")
		built.pluginsDir = filepath.Join(built.dir, "plugins")
		plugin := filepath.Join(built.pluginsDir, "pocketbackup-plugin")
		for bin, pkg := range map[string]string{
			built.testhost: "github.com/pocketbackup/pocketbackup/testhost",
			plugin:         "github.com/pocketbackup/pocketbackup/plugin/cmd/pocketbackup-plugin",
		} {
			if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
				built.err = fmt.Errorf("build %s: %w\n%s", pkg, err, out)
				return
			}
		}
		raw, err := os.ReadFile(plugin)
		if err != nil {
			built.err = err
			return
		}
		sum := sha256.Sum256(raw)
		built.err = os.WriteFile(plugin+".sha256", []byte(hex.EncodeToString(sum[:])+"  pocketbackup-plugin\n"), 0o644)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.testhost, built.pluginsDir
}

func removeBuiltBinaries() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProc starts "testhost serve" and waits until it answers; env is
// added to its environment.
func startProc(t *testing.T, bin, pluginsDir, dataDir, addr string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, url: "http://" + addr, dataDir: dataDir, log: &syncBuffer{}}
	p.cmd = exec.Command(bin, "serve", "--http="+addr, "--dir="+dataDir, "--plugins="+pluginsDir)
	p.cmd.Env = append(os.Environ(), "PB_SUPERUSER_EMAIL="+e2eEmail, "PB_SUPERUSER_PASSWORD="+e2ePassword)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("testhost log:\n%s", p.log.String())
		}
	})
	p.waitUp()
	p.login()
	return p
}

func (p *proc) waitUp() {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url + "/api/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.t.Fatal("testhost did not come up")
}

func (p *proc) call(method, path string, body any, out any) int {
	p.t.Helper()
	status, err := p.tryCall(method, path, body, out)
	if err != nil {
		p.t.Fatal(err)
	}
	return status
}

// tryCall is call that reports errors instead of failing the test.
func (p *proc) tryCall(method, path string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, p.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", p.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("%s %s: %w in %s", method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

func (p *proc) login() {
	p.t.Helper()
	p.token = ""
	var resp struct{ Token string }
	if status := p.call("POST", "/api/collections/_superusers/auth-with-password", map[string]string{"identity": e2eEmail, "password": e2ePassword}, &resp); status != 200 {
		p.t.Fatalf("login: %d", status)
	}
	p.token = resp.Token
}

func (p *proc) health() map[string]any {
	var resp struct{ Data map[string]any }
	p.call("GET", "/api/health", nil, &resp)
	return resp.Data
}

func (p *proc) noteTitles() []string {
	p.t.Helper()
	var list struct {
		Items []struct{ Title string }
	}
	if status := p.call("GET", "/api/collections/notes/records?perPage=500", nil, &list); status != 200 {
		p.t.Fatalf("list notes: %d", status)
	}
	var titles []string
	for _, it := range list.Items {
		titles = append(titles, it.Title)
	}
	return titles
}

// pluginPIDOf returns the PID of the single child process of pid.
func pluginPIDOf(t *testing.T, pid int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) && fields[0] != "Z" {
			return child
		}
	}
	return 0
}

func (p *proc) backupAndWait(name string) {
	p.t.Helper()
	if status := p.call("POST", "/api/backups", map[string]string{"name": name}, nil); status != 204 {
		p.t.Fatalf("create: %d", status)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if h := p.health(); h["canBackup"] == true {
			if last, _ := h["lastOperation"].(map[string]any); last["ok"] != true {
				p.t.Fatalf("create failed: %v", last)
			}
			return
		}
	}
	p.t.Fatal("create did not finish")
}

// TestRestoreReexecEndToEnd restores through the real binary: the process
// re-executes itself (same PID), reattaches the same plugin process, and
// serves the backup's data.
func TestRestoreReexecEndToEnd(t *testing.T) {
	bin, pluginsDir := binaries(t)
	p := startProc(t, bin, pluginsDir, filepath.Join(t.TempDir(), "pb_data"), freeLoopback(t))
	var note struct{ ID string }
	if status := p.call("POST", "/api/collections/notes/records", map[string]string{"title": "keep me", "body": "b"}, &note); status != 200 {
		t.Fatalf("create note: %d", status)
	}
	p.backupAndWait("with_note.zip")
	if status := p.call("DELETE", "/api/collections/notes/records/"+note.ID, nil, nil); status != 204 {
		t.Fatalf("delete note: %d", status)
	}
	if titles := p.noteTitles(); len(titles) != 0 {
		t.Fatalf("notes before restore: %v", titles)
	}
	hostPID := p.cmd.Process.Pid
	pluginPID := pluginPIDOf(t, hostPID)
	if pluginPID == 0 {
		t.Fatal("no plugin process found")
	}

	start := time.Now()
	if status := p.call("POST", "/api/backups/with_note.zip/restore", nil, nil); status != 204 {
		t.Fatalf("restore: %d", status)
	}
	// Wait for the restarted process to report the restore.
	var last map[string]any
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("restore outcome never reported")
		}
		// Down for the swap and restart: errors are expected for a moment.
		p.token = ""
		var auth struct{ Token string }
		if status, err := p.tryCall("POST", "/api/collections/_superusers/auth-with-password",
			map[string]string{"identity": e2eEmail, "password": e2ePassword}, &auth); err != nil || status != 200 {
			continue
		}
		p.token = auth.Token // the restored data has its own token secret
		var h struct{ Data map[string]any }
		if _, err := p.tryCall("GET", "/api/health", nil, &h); err != nil {
			continue
		}
		if last, _ = h.Data["lastOperation"].(map[string]any); last["kind"] == "restore" {
			break
		}
	}
	t.Logf("restore to answering again with the outcome: %v", time.Since(start).Round(time.Millisecond))
	if last["ok"] != true {
		t.Fatalf("restore outcome: %v", last)
	}
	if titles := p.noteTitles(); len(titles) != 1 || titles[0] != "keep me" {
		t.Fatalf("notes after restore: %v", titles)
	}
	// The restored app is served by the process we started, re-executed in
	// place: our child has not exited (a non-blocking wait would reap it),
	// so no new process took over while the old one ended.
	var ws syscall.WaitStatus
	if pid, err := syscall.Wait4(hostPID, &ws, syscall.WNOHANG, nil); pid != 0 || err != nil {
		t.Fatalf("the host process %d ended (wait4 = %d, %v, status %v) instead of re-executing", hostPID, pid, err, ws)
	}
	if got := pluginPIDOf(t, hostPID); got != pluginPID {
		t.Fatalf("plugin pid %d after restore, want the same %d", got, pluginPID)
	}
	// The reattached plugin serves: list and a new backup.
	p.backupAndWait("after_restore.zip")
}

// TestHostKilledDuringRestore SIGKILLs the host while a restore stages a
// large backup: after the next start the data is the old data, intact,
// and the orphaned plugin has exited by itself.
func TestHostKilledDuringRestore(t *testing.T) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	addr := freeLoopback(t)
	p := startProc(t, bin, pluginsDir, dataDir, addr)
	// A big incompressible file makes staging take a while.
	big := filepath.Join(dataDir, "storage", "big.bin")
	if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(big)
	if _, err := io.CopyN(f, newPseudoRandom(), 256<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p.backupAndWait("big.zip")
	if status := p.call("POST", "/api/collections/notes/records", map[string]string{"title": "after the backup"}, nil); status != 200 {
		t.Fatal("note")
	}
	pluginPID := pluginPIDOf(t, p.cmd.Process.Pid)
	if status := p.call("POST", "/api/backups/big.zip/restore", nil, nil); status != 204 {
		t.Fatalf("restore: %d", status)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("restore never showed progress")
		}
		if op, _ := p.health()["operation"].(map[string]any); op != nil && op["bytesDone"].(float64) > 0 {
			break
		}
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	// The orphaned plugin notices its host is gone and exits.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := syscall.Kill(pluginPID, 0); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphaned plugin %d still running", pluginPID)
		}
	}
	next := startProc(t, bin, pluginsDir, dataDir, addr)
	if titles := next.noteTitles(); len(titles) != 1 || titles[0] != "after the backup" {
		t.Fatalf("after a killed restore the data should be the old data; notes %v", titles)
	}
	// Deleted in the background once the app is up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ := os.ReadDir(filepath.Join(dataDir, ".pb_temp_to_delete"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("staging left behind 10 s after start: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pseudoRandom is a fast incompressible byte stream (xorshift).
type pseudoRandom struct{ x uint64 }

func newPseudoRandom() *pseudoRandom { return &pseudoRandom{x: 88172645463325252} }

func (r *pseudoRandom) Read(p []byte) (int, error) {
	for i := range p {
		r.x ^= r.x << 13
		r.x ^= r.x >> 7
		r.x ^= r.x << 17
		p[i] = byte(r.x)
	}
	return len(p), nil
}

// pocketBaseZip zips a data directory the way PocketBase writes backups:
// files only, deflate, paths relative with '/', data.db at the root and an
// empty -wal beside it.
func pocketBaseZip(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Deflate})
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := zw.Create("data.db-wal")
	_, _ = w.Write(nil)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts a zip to the upload route as the SDKs do.
func (p *proc) upload(name string, data []byte) int {
	p.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", p.url+"/api/backups/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitRestored polls until the restarted process reports a restore,
// logging in with the given credentials (the restored data's own).
func (p *proc) waitRestored(email, password string) map[string]any {
	p.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p.token = ""
		var auth struct{ Token string }
		if status, err := p.tryCall("POST", "/api/collections/_superusers/auth-with-password",
			map[string]string{"identity": email, "password": password}, &auth); err != nil || status != 200 {
			continue
		}
		p.token = auth.Token
		var h struct{ Data map[string]any }
		if _, err := p.tryCall("GET", "/api/health", nil, &h); err != nil {
			continue
		}
		if last, _ := h.Data["lastOperation"].(map[string]any); last["kind"] == "restore" {
			return last
		}
	}
	p.t.Fatal("restore outcome never reported")
	return nil
}

// TestRestorePocketBaseBackup restores a backup laid out as PocketBase
// writes it, uploaded through the API; afterwards PocketBase's superuser
// logs in here.
func TestRestorePocketBaseBackup(t *testing.T) {
	bin, pluginsDir := binaries(t)
	pbDir := t.TempDir()
	writePocketBaseDataDir(t, pbDir, "owner@example.com", "pocketbase-password")
	if err := os.MkdirAll(filepath.Join(pbDir, "storage", "pbc_123", "rec1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pbDir, "storage", "pbc_123", "rec1", "photo.jpg"), []byte("jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := pocketBaseZip(t, pbDir)

	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	if status := p.upload("pb_backup_20260101000000.zip", archive); status != 204 {
		t.Fatalf("upload: %d", status)
	}
	if status := p.call("POST", "/api/backups/pb_backup_20260101000000.zip/restore", nil, nil); status != 204 {
		t.Fatalf("restore: %d", status)
	}
	if last := p.waitRestored("owner@example.com", "pocketbase-password"); last["ok"] != true {
		t.Fatalf("restore outcome: %v", last)
	}
	if got, err := os.ReadFile(filepath.Join(dataDir, "storage", "pbc_123", "rec1", "photo.jpg")); err != nil || string(got) != "jpeg" {
		t.Fatalf("restored storage file: %q, %v", got, err)
	}
}

// TestBackupOpensWithUnzip: a backup made here extracts with the unzip
// tool and its databases pass integrity_check.
func TestBackupOpensWithUnzip(t *testing.T) {
	unzip, err := exec.LookPath("unzip")
	if err != nil {
		t.Fatal("unzip is required (make test installs it): ", err)
	}
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	for i := range 20 {
		p.call("POST", "/api/collections/notes/records", map[string]string{"title": fmt.Sprint("n", i)}, nil)
	}
	p.backupAndWait("check.zip")
	out := t.TempDir()
	if msg, err := exec.Command(unzip, "-q", filepath.Join(dataDir, "backups", "check.zip"), "-d", out).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, msg)
	}
	for _, name := range []string{"data.db", "auxiliary.db"} {
		db, err := sql.Open("sqlite", filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		var check string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Fatalf("%s integrity_check: %q, %v", name, check, err)
		}
		db.Close()
	}
}

// TestRestoreRefusesHostileArchiveInStorage: an archive that bypassed the
// upload checks (dropped straight into the backups folder) is refused by
// the restore's own check.
func TestRestoreRefusesHostileArchiveInStorage(t *testing.T) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"data.db", "../../escape.txt"} {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte("x"))
	}
	_ = zw.Close()
	if err := os.MkdirAll(filepath.Join(dataDir, "backups"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "backups", "hostile.zip"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var resp map[string]any
	if status := p.call("POST", "/api/backups/hostile.zip/restore", nil, &resp); status != 400 || resp["message"] != "Missing or invalid backup file." {
		t.Fatalf("restore of a hostile archive: %d %v", status, resp)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dataDir), "escape.txt")); !os.IsNotExist(err) {
		t.Fatal("an entry escaped the data directory")
	}
}
