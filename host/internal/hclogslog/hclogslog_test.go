package hclogslog_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/pocketbackup/pocketbackup/host/internal/hclogslog"
)

// TestKeepsStructure: levels, names, With's pairs and the call's pairs
// arrive in slog as attributes, not as text.
func TestKeepsStructure(t *testing.T) {
	var buf bytes.Buffer
	l := hclogslog.New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: hclogslog.LevelTrace})))
	l.Named("host").Named("plugin").With("pid", 42).Warn("plugin exited", "code", 2)
	l.Trace("fine detail")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	if n := strings.Count(lines[0], `"name"`); n != 1 {
		t.Errorf("the name is there %d times, want once: %s", n, lines[0])
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"level": "WARN", "msg": "plugin exited", "name": "host.plugin", "pid": 42.0, "code": 2.0} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v (record %v)", k, rec[k], want, rec)
		}
	}
	if !strings.Contains(lines[1], `"level":"DEBUG-4"`) {
		t.Errorf("trace line %s", lines[1])
	}
}

// TestLevels: SetLevel filters, and Is* answer for both the adapter's
// level and the handler's.
func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	l := hclogslog.New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if l.IsDebug() || !l.IsInfo() {
		t.Errorf("IsDebug %v IsInfo %v under an Info handler", l.IsDebug(), l.IsInfo())
	}
	l.SetLevel(hclog.Error)
	l.Warn("dropped")
	l.Error("kept")
	if strings.Contains(buf.String(), "dropped") || !strings.Contains(buf.String(), "kept") {
		t.Errorf("output %q", buf.String())
	}
	if l.GetLevel() != hclog.Error || l.IsWarn() {
		t.Errorf("level %v IsWarn %v", l.GetLevel(), l.IsWarn())
	}
	buf.Reset()
	l.SetLevel(hclog.Info)
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("from a std logger")
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "from a std logger") {
		t.Errorf("standard logger output %q", buf.String())
	}
}
