package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/shared"
)

// handOverFile, in the private socket directory, tells the process that
// replaces this one (same PID, after exec) where its plugin listens.
const handOverFile = "reattach.json"

// handOver is what crosses the exec.
type handOverInfo struct {
	Pid  int    `json:"pid"`
	Addr string `json:"addr"` // unix socket path
}

// privateSocketDir returns the plugin socket directory for dataDir: one
// per user and data directory, mode 0700, so a process that replaces this
// one finds it again. If that name is taken by something not private to
// us, a fresh random directory is used (and the plugin cannot be handed
// over).
func privateSocketDir(dataDir string) (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	dir := filepath.Join(base, fmt.Sprintf("pocketbackup-%d-%s", os.Geteuid(), shortHash(dataDir)))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("plugin socket dir: %w", err)
	}
	if checkPrivateDir(dir) == nil {
		return dir, nil
	}
	dir, err := os.MkdirTemp(base, "pocketbackup-")
	if err != nil {
		return "", fmt.Errorf("plugin socket dir: %w", err)
	}
	return dir, checkPrivateDir(dir)
}

// handOver writes where the running plugin listens, for the process that
// replaces this one by exec. The plugin keeps running: it is our child and
// stays the child of the same PID.
func (s *supervisor) handOver() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil || s.client.Exited() {
		return errors.New("no running plugin")
	}
	rc := s.client.ReattachConfig()
	if rc == nil || rc.Addr == nil || rc.Addr.Network() != "unix" {
		return errors.New("plugin has no unix socket")
	}
	data, err := json.Marshal(handOverInfo{Pid: rc.Pid, Addr: rc.Addr.String()})
	if err != nil {
		return err
	}
	return durable.WriteFileAtomic(filepath.Join(s.socketDir, handOverFile), data, 0o600)
}

// takeHandOver reads and removes a hand-over left by the process this one
// replaced; nil when there is none.
func takeHandOver(socketDir string) *handOverInfo {
	path := filepath.Join(socketDir, handOverFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	_ = os.Remove(path)
	var info handOverInfo
	if json.Unmarshal(data, &info) != nil || info.Pid <= 0 {
		return nil
	}
	return &info
}

// reattach connects to the plugin a previous incarnation of this process
// started. Only a process that is our own child (hence not yet reaped, so
// its PID cannot have been reused) and listens inside our private socket
// directory is trusted.
func (s *supervisor) reattach(ctx context.Context, info *handOverInfo) (shared.Backups, error) {
	if filepath.Dir(info.Addr) != s.socketDir {
		return nil, fmt.Errorf("socket %s is outside the private dir", info.Addr)
	}
	if ppid, err := parentOf(info.Pid); err != nil || ppid != os.Getpid() {
		return nil, fmt.Errorf("process %d is not our child (parent %d, %v)", info.Pid, ppid, err)
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         shared.PluginMap(nil),
		Reattach: &goplugin.ReattachConfig{
			Protocol:        goplugin.ProtocolGRPC,
			ProtocolVersion: shared.ProtocolVersion,
			Addr:            &net.UnixAddr{Net: "unix", Name: info.Addr},
			Pid:             info.Pid,
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           s.log,
	})
	backups, err := dispense(client)
	if err != nil {
		client.Kill()
		return nil, err
	}
	// go-plugin did not start this process, so nobody waits for it: reap
	// it ourselves when it exits, or it lingers as a zombie that looks
	// alive to go-plugin.
	go reap(info.Pid)
	s.client, s.backups = client, backups
	s.log.Info("plugin reattached", "pid", info.Pid)
	return backups, nil
}

// dispense connects a client and returns its Backups, checked with a ping.
func dispense(client *goplugin.Client) (shared.Backups, error) {
	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("connect plugin: %w", err)
	}
	if err := rpc.Ping(); err != nil {
		return nil, fmt.Errorf("ping plugin: %w", err)
	}
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense plugin: %w", err)
	}
	backups, ok := raw.(shared.Backups)
	if !ok {
		return nil, fmt.Errorf("plugin is %T, not shared.Backups", raw)
	}
	return backups, nil
}

// dropStale kills and reaps a handed-over plugin we could not reattach,
// when it is provably our child (its PID cannot have been reused).
func dropStale(info *handOverInfo) {
	if ppid, err := parentOf(info.Pid); err == nil && ppid == os.Getpid() {
		killAndReap(info.Pid)
	}
}

// shortHash names a data directory in a file name.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
