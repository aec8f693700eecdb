package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// buildTesthost builds this command's binary once per test.
func buildTesthost(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "testhost")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/pocketbackup/pocketbackup/testhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testhost: %v\n%s", err, out)
	}
	return bin
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

// startProc starts "testhost serve" and waits until it answers.
func startProc(t *testing.T, bin, pluginsDir, dataDir, addr string) *proc {
	t.Helper()
	p := &proc{t: t, url: "http://" + addr, dataDir: dataDir, log: &syncBuffer{}}
	p.cmd = exec.Command(bin, "serve", "--http="+addr, "--dir="+dataDir, "--plugins="+pluginsDir)
	p.cmd.Env = append(os.Environ(), "PB_SUPERUSER_EMAIL="+e2eEmail, "PB_SUPERUSER_PASSWORD="+e2ePassword)
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
	bin, pluginsDir := buildTesthost(t), buildPlugin(t)
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
	if p.cmd.ProcessState != nil {
		t.Fatal("the host process exited instead of re-executing")
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
	bin, pluginsDir := buildTesthost(t), buildPlugin(t)
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
	left, _ := os.ReadDir(filepath.Join(dataDir, ".pb_temp_to_delete"))
	if len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
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
