package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runOnPTY runs the built binary's backups command with a pseudo-terminal
// as its stdin, stdout and stderr; answer, when set, is typed once prompt
// appears. It returns everything the terminal showed.
func runOnPTY(t *testing.T, bin string, env []string, prompt, answer string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"backups"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var mu syncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&mu, tty) // ends with EIO once the command exits
	}()
	if prompt != "" {
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(mu.String(), prompt) {
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %q on the terminal: %q", prompt, mu.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := tty.Write([]byte(answer + "\r")); err != nil {
			t.Fatal(err)
		}
	}
	err = cmd.Wait()
	<-done
	return mu.String(), err
}

// TestBackupsCLIProgressBarOnPTY: on a terminal the download draws a bar
// that reaches 100%, and a missing password is asked for without echo.
func TestBackupsCLIProgressBarOnPTY(t *testing.T) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	addIncompressible(t, dataDir, 4<<20)
	runBackupsCLI(t, bin, p, "", nil, "create", "big.zip", "--wait").want(t, 0, "done")

	env := []string{"PB_URL=" + p.url, "PB_SUPERUSER_EMAIL=" + e2eEmail, "PB_SUPERUSER_PASSWORD=" + e2ePassword}
	out := filepath.Join(t.TempDir(), "big.zip")
	screen, err := runOnPTY(t, bin, env, "", "", "download", "big.zip", "-o", out)
	if err != nil {
		t.Fatalf("download on a terminal: %v\n%q", err, screen)
	}
	// The bar redraws its line (carriage returns without new lines) and
	// its last drawing is full.
	var drawn, full bool
	for _, seg := range strings.Split(screen, "\r") {
		if strings.Contains(seg, "download big.zip") && strings.Contains(seg, "█") && !strings.Contains(seg, "\n") {
			drawn = true
			full = full || strings.Contains(seg, "100%")
		}
	}
	if !drawn || !full {
		t.Fatalf("no bar reaching 100%% on the terminal (drawn %v, full %v): %q", drawn, full, screen)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, p.downloadDirect("big.zip")) {
		t.Fatal("downloaded bytes differ")
	}

	env = []string{"PB_URL=" + p.url, "PB_SUPERUSER_EMAIL=" + e2eEmail, "PB_SUPERUSER_PASSWORD="}
	screen, err = runOnPTY(t, bin, env, "Password for "+e2eEmail, e2ePassword, "list")
	if err != nil {
		t.Fatalf("list with a prompted password: %v\n%q", err, screen)
	}
	if !strings.Contains(screen, "big.zip") || strings.Contains(screen, e2ePassword) {
		t.Fatalf("prompted list: want the list and no echoed password: %q", screen)
	}
}
