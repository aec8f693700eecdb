package plugin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pocketbackup/pocketbackup/archive"
)

// pluginBin is the plugin binary make build writes.
var pluginBin = filepath.Join("..", "bin", "plugins", "pocketbackup-plugin")

// TestServeReadsEngineSwitch: the real plugin binary reads
// POCKETBACKUP_DEFLATE from its environment (Serve does, not the archive
// package) and reports the engine it passes down when it starts.
func TestServeReadsEngineSwitch(t *testing.T) {
	if _, err := os.Stat(pluginBin); err != nil {
		t.Fatalf("%v: run make build first", err)
	}
	for env, want := range map[string]string{
		"go":  "go",
		"":    archive.EngineAuto.Name(),
		"isa": archive.EngineAuto.Name(), // only "go" is a switch
	} {
		got := startedEngine(t, env)
		if got != want {
			t.Errorf("POCKETBACKUP_DEFLATE=%q: the plugin started with deflate=%q, want %q", env, got, want)
		}
	}
}

// startedEngine runs the plugin outside go-plugin's handshake, which makes
// it exit right after its "plugin started" line, and returns that line's
// deflate field.
func startedEngine(t *testing.T, deflate string) string {
	t.Helper()
	cmd := exec.Command(pluginBin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "POCKETBACKUP_DEFLATE=" + deflate}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run() // go-plugin exits non-zero without a host
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var line struct {
			Message string `json:"@message"`
			Deflate string `json:"deflate"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "plugin started" {
			return line.Deflate
		}
	}
	t.Fatalf("no \"plugin started\" line in the plugin's stderr:\n%s", stderr.String())
	return ""
}
