package host_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// TestPluginRelaunchedAfterKill kills the real plugin process: the next
// request is served by a fresh plugin with a new PID.
func TestPluginRelaunchedAfterKill(t *testing.T) {
	e := newEnv(t)
	first := e.host.PluginPID()
	if first <= 0 {
		t.Fatalf("plugin pid = %d", first)
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 || body != "[]\n" {
		t.Fatalf("list after kill: %d %s", status, body)
	}
	second := e.host.PluginPID()
	if second <= 0 || second == first {
		t.Fatalf("plugin pid after kill = %d (was %d)", second, first)
	}
	if err := syscall.Kill(first, 0); err == nil {
		t.Errorf("killed plugin %d still exists (zombie?)", first)
	}
}

// TestPluginChecksum refuses a binary whose SHA-256 does not match, and one
// without a checksum.
func TestPluginChecksum(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pocketbackup-plugin")
	data, err := os.ReadFile(filepath.Join(pluginDir, "pocketbackup-plugin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := host.Config{DataDir: t.TempDir(), PluginsDir: dir, Auth: newEnvAuth(t)}

	if _, err := host.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("no checksum file: err = %v", err)
	}
	if err := os.WriteFile(bin+".sha256", []byte(strings.Repeat("ab", 32)+"  pocketbackup-plugin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := host.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("wrong checksum: err = %v", err)
	}
	if err := writeChecksum(bin); err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("right checksum: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// Pinned in the config, it wins over the file.
	cfg.PluginSHA256 = strings.Repeat("00", 32)
	if _, err := host.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("pinned wrong checksum: err = %v", err)
	}
}

// TestPluginDirChoice: with several binaries the host asks for a name.
func TestPluginDirChoice(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := host.New(context.Background(), host.Config{DataDir: t.TempDir(), PluginsDir: dir, Auth: newEnvAuth(t)})
	if err == nil || !strings.Contains(err.Error(), "several plugins") {
		t.Fatalf("err = %v", err)
	}
	_, err = host.New(context.Background(), host.Config{DataDir: t.TempDir(), PluginsDir: t.TempDir(), Auth: newEnvAuth(t)})
	if err == nil || !strings.Contains(err.Error(), "no executable plugin") {
		t.Fatalf("empty dir: err = %v", err)
	}
}

// TestPluginSocketIsPrivate finds the plugin's unix socket and checks that
// it sits in a 0700 directory, and that another local user cannot connect.
func TestPluginSocketIsPrivate(t *testing.T) {
	e := newEnv(t)
	sock := pluginSocket(t, e.host.PluginPID())
	info, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir mode %v, want 0700", info.Mode().Perm())
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("owner cannot connect: %v", err)
	}
	conn.Close()
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot dial as another user; only the folder's 0700 mode and the owner's dial were checked")
	}
	// The socket file itself is made world-writable, so that only the
	// folder's mode stands between another user and the plugin.
	sockInfo, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(sock, sockInfo.Mode().Perm())
	// As nobody, the dial must fail with EACCES, from the folder.
	if got := dialAsNobody(t, sock); got != "EACCES" {
		t.Fatalf("another user's dial through the 0700 folder: %s, want EACCES", got)
	}
	// Control: with the folder searchable by others the same dial gets
	// through, so the folder was what refused it (and no folder above).
	if err := os.Chmod(filepath.Dir(sock), 0o711); err != nil {
		t.Fatal(err)
	}
	got := dialAsNobody(t, sock)
	if err := os.Chmod(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	if got != "ACCEPTED" {
		t.Fatalf("control: another user's dial through a 0711 folder: %s, want it accepted", got)
	}
}

// dialAsNobody dials the unix socket sock as uid 65534 and returns
// "EACCES", "ACCEPTED" or the other error.
func dialAsNobody(t *testing.T, sock string) string {
	t.Helper()
	// The test binary sits in a private build dir: copy it where nobody can run it.
	pub, err := os.MkdirTemp("", "dial-as-other-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pub)
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(pub, "dialer")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperDialAsOther$")
	cmd.Dir = pub
	cmd.Env = append(os.Environ(), "DIAL_SOCKET="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	_, result, ok := strings.Cut(string(out), "DIAL RESULT: ")
	if err != nil || !ok {
		t.Fatalf("dial helper as another user: %v\n%s", err, out)
	}
	result, _, _ = strings.Cut(result, "\n")
	return result
}

// TestHelperDialAsOther is run by TestPluginSocketIsPrivate as another user.
func TestHelperDialAsOther(t *testing.T) {
	sock := os.Getenv("DIAL_SOCKET")
	if sock == "" {
		return // only meaningful as the helper process
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	switch {
	case errors.Is(err, syscall.EACCES):
		os.Stdout.WriteString("DIAL RESULT: EACCES\n")
	case err != nil:
		os.Stdout.WriteString("DIAL RESULT: " + err.Error() + "\n")
	default:
		conn.Close()
		os.Stdout.WriteString("DIAL RESULT: ACCEPTED\n")
	}
}

// pluginSocket returns the path of the unix socket the plugin listens on.
func pluginSocket(t *testing.T, pid int) string {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/" + itoa(pid) + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 8 && inodes[f[6]] && strings.Contains(f[7], "/pocketbackup-") {
			return f[7]
		}
	}
	t.Fatal("plugin socket not found")
	return ""
}

func itoa(i int) string { return fmtInt(i) }
