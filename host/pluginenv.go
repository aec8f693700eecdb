package host

import (
	"slices"
	"strings"
)

// defaultPluginEnv is what DefaultPluginEnv returns.
var defaultPluginEnv = []string{
	// Cloud credentials and endpoints, as the storage drivers read them.
	"AWS_*", "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "AZURE_*",
	// Proxies and CA certificates, for any HTTPS the storage does.
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	// The process's basics and the Go runtime's own knobs.
	"HOME", "TMPDIR", "PATH", "TZ", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "GOTRACEBACK",
	// The plugin's switches (POCKETBACKUP_DEFLATE, POCKETBACKUP_FSYNC).
	"POCKETBACKUP_*",
}

// DefaultPluginEnv returns the names of the environment variables the
// plugin process gets from the host's environment when Config.PluginEnv is
// nil: cloud credentials (AWS_*, GOOGLE_APPLICATION_CREDENTIALS,
// STORAGE_EMULATOR_HOST, AZURE_*), proxy and CA settings (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY in both cases, SSL_CERT_FILE, SSL_CERT_DIR), HOME,
// TMPDIR, PATH, TZ, the Go runtime's GOGC, GOMEMLIMIT, GOMAXPROCS, GODEBUG
// and GOTRACEBACK, and the plugin's own POCKETBACKUP_* switches. A name
// ending in '*' stands for every variable with that prefix. The slice is a
// copy: append to it to let more through.
func DefaultPluginEnv() []string { return slices.Clone(defaultPluginEnv) }

// pluginEnviron returns the entries of environ ("NAME=value", as
// os.Environ gives them) whose names allow lists, in environ's order.
func pluginEnviron(environ, allow []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && name != "" && envAllowed(name, allow) {
			out = append(out, kv)
		}
	}
	return out
}

// envAllowed reports whether name is in allow, exactly or by a prefix
// pattern ("AWS_*").
func envAllowed(name string, allow []string) bool {
	for _, a := range allow {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == a {
			return true
		}
	}
	return false
}
