package host

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/pocketbackup/pocketbackup/shared"
)

// supervisor owns the plugin process: it verifies the binary, launches it on
// a private socket, and launches a fresh one when the last one died.
type supervisor struct {
	path      string   // plugin binary
	checksum  []byte   // expected SHA-256
	socketDir string   // 0700, created by us
	envAllow  []string // the host's environment variables the plugin gets
	// extraEnv is set in the plugin's environment by the host itself
	// ("NAME=value"), after and over what envAllow lets through.
	extraEnv []string
	log      hclog.Logger

	mu      sync.Mutex
	client  *goplugin.Client
	backups shared.Backups
	pending *handOverInfo // a plugin handed over by the process we replaced

	// started, when set, learns each plugin taken into use: "launch",
	// "restart" (launched after one died) or "reattach".
	started  func(how string)
	launched bool // a plugin was launched or reattached before
}

// newSupervisor finds and verifies the plugin binary and prepares the
// private socket directory. It does not start the plugin yet. When the
// process it replaced handed a running plugin over, the binary is not
// hashed now: that plugin was verified when it was launched, and a launch
// verifies the binary again right before exec (see launch). A restore's
// re-exec then does not keep the app down reading the whole binary.
func newSupervisor(dataDir, pluginsDir, name, wantSHA string, envAllow []string, log hclog.Logger) (*supervisor, error) {
	path, err := findPlugin(pluginsDir, name)
	if err != nil {
		return nil, err
	}
	checksum, err := expectedChecksum(path, wantSHA)
	if err != nil {
		return nil, err
	}
	socketDir, err := privateSocketDir(dataDir)
	if err != nil {
		return nil, err
	}
	pending := takeHandOver(socketDir)
	if pending == nil {
		if err := verifyChecksum(path, checksum); err != nil {
			return nil, err
		}
	}
	return &supervisor{path: path, checksum: checksum, socketDir: socketDir, envAllow: envAllow, log: log,
		pending: pending}, nil
}

// findPlugin returns the plugin binary: PluginsDir/name, or the single
// executable file in PluginsDir when name is empty.
func findPlugin(dir, name string) (string, error) {
	if name != "" {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("plugin %q: %w", name, err)
		}
		return path, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("plugins dir: %w", err)
	}
	var found []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		found = append(found, e.Name())
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no executable plugin in %s", dir)
	case 1:
		return filepath.Join(dir, found[0]), nil
	default:
		return "", fmt.Errorf("several plugins in %s (%s): name one", dir, strings.Join(found, ", "))
	}
}

// expectedChecksum is want (hex) or, when empty, the first field of the
// binary's "<name>.sha256" file (sha256sum's format). A binary without a
// known checksum is refused.
func expectedChecksum(path, want string) ([]byte, error) {
	if want == "" {
		raw, err := os.ReadFile(path + ".sha256")
		if err != nil {
			return nil, fmt.Errorf("plugin checksum: %w (create it with: sha256sum %s > %s.sha256)", err, filepath.Base(path), filepath.Base(path))
		}
		fields := strings.Fields(string(raw))
		if len(fields) == 0 {
			return nil, fmt.Errorf("plugin checksum: %s.sha256 is empty", path)
		}
		want = fields[0]
	}
	sum, err := hex.DecodeString(want)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("plugin checksum: %q is not a SHA-256 in hex", want)
	}
	return sum, nil
}

func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("plugin checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("plugin checksum: %w", err)
	}
	if got := h.Sum(nil); subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("plugin checksum mismatch for %s: got %x, want %x", path, got, want)
	}
	return nil
}

// checkPrivateDir makes sure only we can enter dir: the plugin's socket in
// it is then out of reach of every other local user.
func checkPrivateDir(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("plugin socket dir: %w", err)
	}
	if !info.IsDir() || info.Mode().Perm() != 0o700 || !ownedByEUID(info) {
		return fmt.Errorf("plugin socket dir %s is not a private directory (mode %v)", dir, info.Mode())
	}
	return nil
}

// Backups returns the running plugin, launching it if it is not running.
func (s *supervisor) Backups(ctx context.Context) (shared.Backups, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil && !s.client.Exited() {
		return s.backups, nil
	}
	if s.client != nil {
		s.log.Warn("plugin exited; launching a fresh one")
		s.client.Kill()
		s.client = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if info := s.pending; info != nil {
		s.pending = nil
		b, err := s.reattach(ctx, info)
		if err == nil {
			s.count("reattach")
			return b, nil
		}
		s.log.Warn("could not reattach the plugin; launching a fresh one", "pid", info.Pid, "error", err)
		dropStale(info)
	}
	return s.launch()
}

func (s *supervisor) launch() (shared.Backups, error) {
	if err := checkPrivateDir(s.socketDir); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.path)
	// Only the allowed part of the host's environment, read now: the
	// host's secrets (its superuser password, its own keys) stay out of
	// the plugin, which handles hostile archives.
	cmd.Env = append(pluginEnviron(os.Environ(), s.envAllow), goplugin.EnvUnixSocketDir+"="+s.socketDir)
	cmd.Env = append(cmd.Env, s.extraEnv...)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		SkipHostEnv:      true,
		Plugins:          shared.PluginMap(nil),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		// Checked again right before exec: the binary may have changed since start.
		SecureConfig: &goplugin.SecureConfig{Checksum: s.checksum, Hash: sha256.New()},
		Logger:       s.log,
	})
	backups, err := dispense(client)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin: %w", err)
	}
	s.client, s.backups = client, backups
	s.log.Info("plugin started", "path", s.path, "pid", s.pid())
	if s.launched {
		s.count("restart")
	} else {
		s.count("launch")
	}
	return backups, nil
}

// count reports a plugin taken into use; s.mu is held.
func (s *supervisor) count(how string) {
	s.launched = true
	if s.started != nil {
		s.started(how)
	}
}

// died reports whether the plugin that served b has exited, waiting up to
// exitWait for go-plugin to notice: a call that failed as unavailable
// usually means the process is going away.
func (s *supervisor) died(b shared.Backups) bool {
	s.mu.Lock()
	client := s.client
	current := s.backups == b
	s.mu.Unlock()
	if client == nil || !current {
		return true // already replaced
	}
	deadline := time.Now().Add(exitWait)
	for !client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// exitWait bounds how long died waits for a failing plugin to exit.
const exitWait = 2 * time.Second

// pid returns the plugin's process id, or 0.
func (s *supervisor) pid() int {
	if s.client == nil {
		return 0
	}
	rc := s.client.ReattachConfig()
	if rc == nil {
		return 0
	}
	return rc.Pid
}

// PID returns the running plugin's process id, or 0.
func (s *supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid()
}

// Close stops the plugin and removes the socket directory.
func (s *supervisor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Kill()
		s.client = nil
	}
	return os.RemoveAll(s.socketDir)
}
