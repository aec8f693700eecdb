package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEmbeddedServesBackups builds this example and the plugin, runs it,
// logs in and creates and lists a backup: the embedding path works.
func TestEmbeddedServesBackups(t *testing.T) {
	dir := t.TempDir()
	bin, plugin := filepath.Join(dir, "embedded"), filepath.Join(dir, "plugins", "pocketbackup-plugin")
	for out, pkg := range map[string]string{bin: ".", plugin: "../../plugin/cmd/pocketbackup-plugin"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	raw, _ := os.ReadFile(plugin)
	sum := sha256.Sum256(raw)
	if err := os.WriteFile(plugin+".sha256", []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--dir="+filepath.Join(dir, "data"), "--plugins="+filepath.Dir(plugin), "--http="+addr)
	cmd.Env = append(os.Environ(), "EMBEDDED_EMAIL=me@example.com", "EMBEDDED_PASSWORD=secret-pass-1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + addr
	var token string
	for deadline := time.Now().Add(30 * time.Second); token == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no login within 30s")
		}
		resp, err := http.Post(base+"/api/collections/_superusers/auth-with-password", "application/json",
			strings.NewReader(`{"identity":"me@example.com","password":"secret-pass-1"}`))
		if err != nil {
			continue
		}
		var body struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		token = body.Token
	}
	req, _ := http.NewRequest("POST", base+"/api/backups", strings.NewReader(`{"name":"embedded.zip"}`))
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	// The backups page is served too.
	page, err := http.Get(base + "/_/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), `<script type="module" src="app.js">`) {
		t.Fatalf("backups page: %d %.200s", page.StatusCode, html)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", base+"/api/backups", nil)
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var list []struct{ Key string }
			_ = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if len(list) == 1 && list[0].Key == "embedded.zip" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprint("backup not listed: ", err))
		}
	}
}
