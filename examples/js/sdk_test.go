// Package js runs the JavaScript SDK scenarios in test/ with Node against a
// real bin/testhost serving the real plugin, both built by the test.
package js

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

// TestSDKScenarios runs every test/*.test.mjs with node's test runner.
func TestSDKScenarios(t *testing.T) {
	if _, err := os.Stat("node_modules/bosbase"); err != nil {
		t.Fatal("examples/js/node_modules is missing: run `make test` (it runs `npm ci` here) or `npm ci` in examples/js")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the SDK scenarios: ", err)
	}
	srv := startTestHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec", "test/")
	cmd.Env = append(os.Environ(), "PB_URL="+srv.url, "PB_EMAIL="+srv.email, "PB_PASSWORD="+srv.password)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("SDK scenarios failed: %v", err)
	}
	if !strings.Contains(string(out), "pass ") {
		t.Fatal("node ran no test")
	}
}

// testHost is a running bin/testhost.
type testHost struct {
	url, email, password string
}

// startTestHost builds testhost and the plugin into a temp dir and serves
// on a free loopback port with a known superuser; it is stopped at cleanup.
func startTestHost(t *testing.T) testHost {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "testhost")
	plugins := filepath.Join(dir, "plugins")
	pluginBin := filepath.Join(plugins, "pocketbackup-plugin")
	goBuild(t, bin, "../../testhost")
	goBuild(t, pluginBin, "../../plugin/cmd/pocketbackup-plugin")
	data, err := os.ReadFile(pluginBin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if err := os.WriteFile(pluginBin+".sha256", []byte(hex.EncodeToString(sum[:])+"  pocketbackup-plugin\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	h := testHost{url: "http://" + addr, email: "sdk-admin@example.com", password: "sdk-password-123"}
	cmd := exec.Command(bin, "serve", "--http="+addr, "--dir="+filepath.Join(dir, "pb_data"), "--plugins="+plugins)
	cmd.Env = append(os.Environ(), "PB_SUPERUSER_EMAIL="+h.email, "PB_SUPERUSER_PASSWORD="+h.password)
	logFile, err := os.Create(filepath.Join(dir, "testhost.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("testhost did not stop within 15s of SIGTERM")
		}
		logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("testhost log:\n%s", log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return h
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("testhost did not answer /api/health within 30s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
