package plugin

import (
	"testing"

	"github.com/pocketbackup/pocketbackup/archive"
)

// TestWithEnv: the documented switches, and only their documented values,
// turn into options; what a caller set stays set.
func TestWithEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if cfg := withEnv(Config{}, env(nil)); cfg.Engine != archive.EngineAuto || cfg.SyncEachFile {
		t.Errorf("no switches: %+v", cfg)
	}
	cfg := withEnv(Config{}, env(map[string]string{"POCKETBACKUP_DEFLATE": "go", "POCKETBACKUP_FSYNC": "each"}))
	if cfg.Engine != archive.EngineGo || !cfg.SyncEachFile {
		t.Errorf("both switches: %+v", cfg)
	}
	cfg = withEnv(Config{}, env(map[string]string{"POCKETBACKUP_DEFLATE": "isa-l", "POCKETBACKUP_FSYNC": "all"}))
	if cfg.Engine != archive.EngineAuto || cfg.SyncEachFile {
		t.Errorf("other values: %+v", cfg)
	}
	cfg = withEnv(Config{Engine: archive.EngineGo, SyncEachFile: true}, env(nil))
	if cfg.Engine != archive.EngineGo || !cfg.SyncEachFile {
		t.Errorf("caller's options lost: %+v", cfg)
	}
}
