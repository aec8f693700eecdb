package host_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
)

// processEnv returns the environment pid was started with.
func processEnv(t *testing.T, pid int) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Skipf("cannot read the plugin's environment: %v", err)
	}
	env := map[string]string{}
	for kv := range bytes.SplitSeq(raw, []byte{0}) {
		if name, value, ok := strings.Cut(string(kv), "="); ok {
			env[name] = value
		}
	}
	return env
}

// TestPluginEnvironmentIsAllowListed: the real plugin subprocess gets the
// variables on the allow-list from the host's environment and nothing else:
// not the superuser password, not an app's own secret.
func TestPluginEnvironmentIsAllowListed(t *testing.T) {
	t.Setenv("PB_SUPERUSER_PASSWORD", "host-only-password-4c2e")
	t.Setenv("MYAPP_SECRET", "host-only-secret-9a1d")
	t.Setenv("AWS_PROFILE", "allowed-profile-1")
	t.Setenv("https_proxy", "http://proxy.invalid:3128")
	t.Setenv("POCKETBACKUP_DEFLATE", "go")
	t.Setenv("EXTRA_ALLOWED", "embedder-added-7f")

	t.Run("default list", func(t *testing.T) {
		e := newEnv(t)
		env := processEnv(t, e.host.PluginPID())
		for _, name := range []string{"PB_SUPERUSER_PASSWORD", "MYAPP_SECRET", "EXTRA_ALLOWED"} {
			if v, ok := env[name]; ok {
				t.Errorf("the plugin got %s=%q", name, v)
			}
		}
		for name, want := range map[string]string{"AWS_PROFILE": "allowed-profile-1", "https_proxy": "http://proxy.invalid:3128",
			"POCKETBACKUP_DEFLATE": "go", "PATH": os.Getenv("PATH")} {
			if got := env[name]; got != want {
				t.Errorf("the plugin got %s=%q, want %q", name, got, want)
			}
		}
		if env["POCKETBACKUP_PLUGIN"] == "" {
			t.Errorf("the plugin lacks go-plugin's handshake variable: %v", env)
		}
	})
	t.Run("extended list", func(t *testing.T) {
		e := newEnvWith(t, func(cfg *host.Config) { cfg.PluginEnv = append(host.DefaultPluginEnv(), "EXTRA_ALLOWED") })
		env := processEnv(t, e.host.PluginPID())
		if got := env["EXTRA_ALLOWED"]; got != "embedder-added-7f" {
			t.Errorf("EXTRA_ALLOWED = %q", got)
		}
		if _, ok := env["PB_SUPERUSER_PASSWORD"]; ok {
			t.Error("the plugin got PB_SUPERUSER_PASSWORD")
		}
		if !slices.Contains(host.DefaultPluginEnv(), "AWS_*") || slices.Contains(host.DefaultPluginEnv(), "EXTRA_ALLOWED") {
			t.Errorf("DefaultPluginEnv changed by an append: %v", host.DefaultPluginEnv())
		}
	})
}
