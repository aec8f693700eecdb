package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tempFilesIn returns the store's temp files (".tmp-*") in dir.
func tempFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestHostKilledDuringCreate SIGKILLs the testhost binary while a create
// writes a large backup: once with its plugin (a crash of the machine or
// of the process group), once alone (the orphaned plugin notices). After
// the next start the half-written backup is never listed, and the store
// holds no temp file once it has been listed.
func TestHostKilledDuringCreate(t *testing.T) {
	for _, withPlugin := range []bool{true, false} {
		name := "host alone"
		if withPlugin {
			name = "host and plugin"
		}
		t.Run(name, func(t *testing.T) {
			bin, pluginsDir := binaries(t)
			dataDir := filepath.Join(t.TempDir(), "pb_data")
			addr := freeLoopback(t)
			p := startProc(t, bin, pluginsDir, dataDir, addr)
			p.backupAndWait("before.zip")
			big := filepath.Join(dataDir, "storage", "big.bin")
			if err := os.MkdirAll(filepath.Dir(big), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(big)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(f, newPseudoRandom(), 256<<20); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			pluginPID := pluginPIDOf(t, p.cmd.Process.Pid)
			if pluginPID == 0 {
				t.Fatal("no plugin process found")
			}
			if status := p.call("POST", "/api/backups", map[string]string{"name": "crash.zip"}, nil); status != 204 {
				t.Fatalf("create: %d", status)
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("create never showed progress")
				}
				h := p.health()
				if op, _ := h["operation"].(map[string]any); op != nil && op["bytesDone"].(float64) > 0 {
					break
				}
				if h["canBackup"] == true {
					t.Fatalf("the create ended before it showed progress: %v", h["lastOperation"])
				}
			}
			if withPlugin {
				_ = syscall.Kill(pluginPID, syscall.SIGKILL)
			}
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
			// The plugin is gone before the next start, killed or orphaned.
			for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pluginPID, 0) == nil; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("plugin %d still running", pluginPID)
				}
			}
			store := filepath.Join(dataDir, "backups")
			left := tempFilesIn(t, store)
			t.Logf("temp files after the kill: %v", left)
			if withPlugin && len(left) == 0 {
				t.Fatal("no temp file after killing a create mid-way: the test proves nothing")
			}

			next := startProc(t, bin, pluginsDir, dataDir, addr)
			var list []struct{ Key string }
			if status := next.call("GET", "/api/backups", nil, &list); status != 200 {
				t.Fatalf("list: %d", status)
			}
			var keys []string
			for _, b := range list {
				keys = append(keys, b.Key)
			}
			if !slices.Equal(keys, []string{"before.zip"}) {
				t.Fatalf("listed %v after the crash, want only before.zip", keys)
			}
			if left := tempFilesIn(t, store); len(left) != 0 {
				t.Fatalf("temp files left after the restart and a list: %v", left)
			}
			entries, err := os.ReadDir(store)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				// before.zip and its digest sidecar (the local store's).
				if sum := sha256.Sum256([]byte("before.zip")); e.Name() != "before.zip" && e.Name() != ".sha256-"+hex.EncodeToString(sum[:]) {
					t.Errorf("store holds %s after the restart", e.Name())
				}
			}
			// The crashed create left no lock: a new one runs, and its name is free.
			if err := os.Remove(big); err != nil {
				t.Fatal(err)
			}
			next.backupAndWait("crash.zip")
			if h := next.health(); h["canBackup"] != true || !strings.Contains(h["lastOperation"].(map[string]any)["key"].(string), "crash.zip") {
				t.Fatalf("health after the retry: %v", h)
			}
		})
	}
}
