package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/clientip"
)

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestParseServeArgs(t *testing.T) {
	defaults := serveOptions{HTTP: defaultHTTP, DataDir: mustAbs(t, defaultDataDir), PluginsDir: mustAbs(t, defaultPluginsDir),
		LogsMaxDays: 5, limits: defaultLimits}
	with := func(f func(*serveOptions)) serveOptions { o := defaults; f(&o); return o }
	const keysText = "# a key\nAGE-SECRET-KEY-1EXAMPLEONLYNOTCHECKEDHERE\n"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(keysText), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want serveOptions
	}{
		{"defaults", nil, nil, defaults},
		{"encryption key file", []string{"--encryption-key-file=" + keyFile}, nil,
			with(func(o *serveOptions) { o.EncryptionKeys = keysText })},
		{"encryption key file from env", nil, map[string]string{"PB_BACKUPS_ENCRYPTION_KEY_FILE": keyFile},
			with(func(o *serveOptions) { o.EncryptionKeys = keysText })},
		{"encryption key itself from env", nil, map[string]string{"PB_BACKUPS_ENCRYPTION_KEY": keysText},
			with(func(o *serveOptions) { o.EncryptionKeys = keysText })},
		{"flags", []string{"--http=0.0.0.0:9000", "--dir=/srv/pb", "--plugins", "/opt/plugins", "-storage=mem://", "--plugin=p1", "--plugin-sha256=ab"},
			nil, with(func(o *serveOptions) {
				o.HTTP, o.DataDir, o.PluginsDir, o.StorageURL, o.PluginName, o.PluginSHA256 = "0.0.0.0:9000", "/srv/pb", "/opt/plugins", "mem://", "p1", "ab"
			})},
		{"environment", nil,
			map[string]string{"PB_HTTP": ":1234", "PB_DATA_DIR": "/env/data", "PB_PLUGINS_DIR": "/env/plugins", "PB_BACKUPS_STORAGE": "s3://b?region=x",
				"PB_SUPERUSER_EMAIL": "su@example.com", "PB_SUPERUSER_PASSWORD": "12345678"},
			with(func(o *serveOptions) {
				o.HTTP, o.DataDir, o.PluginsDir, o.StorageURL = ":1234", "/env/data", "/env/plugins", "s3://b?region=x"
				o.SuperuserEmail, o.SuperuserPassword = "su@example.com", "12345678"
			})},
		{"flags win over environment", []string{"--dir=/flag/data", "--http=127.0.0.1:1"},
			map[string]string{"PB_HTTP": ":1234", "PB_DATA_DIR": "/env/data"},
			with(func(o *serveOptions) { o.HTTP, o.DataDir = "127.0.0.1:1", "/flag/data" })},
		{"relative dir made absolute", []string{"--dir", "rel/pb_data"}, nil,
			with(func(o *serveOptions) { o.DataDir = mustAbs(t, "rel/pb_data") })},
		{"end-to-end tests' stop before restart", nil, map[string]string{"TESTHOST_STOP_BEFORE_RESTART": "1"},
			with(func(o *serveOptions) { o.StopBeforeRestart = true })},
		{"trusted proxies and log days", []string{"--trusted-proxies=10.0.0.1, 192.168.0.0/16", "--logs-max-days=2"}, nil,
			with(func(o *serveOptions) {
				o.TrustedProxies = clientip.New(netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16"))
				o.LogsMaxDays = 2
			})},
		{"trusted proxies and log days from env", nil, map[string]string{"PB_TRUSTED_PROXIES": "::1", "PB_LOGS_MAX_DAYS": "0"},
			with(func(o *serveOptions) {
				o.TrustedProxies = clientip.New(netip.MustParsePrefix("::1/128"))
				o.LogsMaxDays = 0
			})},
		{"metrics address from env", nil, map[string]string{"PB_METRICS_HTTP": "127.0.0.1:9091"},
			with(func(o *serveOptions) { o.MetricsHTTP = "127.0.0.1:9091" })},
		{"metrics address flag wins over env", []string{"--metrics-http=10.0.0.2:9090"}, map[string]string{"PB_METRICS_HTTP": "127.0.0.1:9091"},
			with(func(o *serveOptions) { o.MetricsHTTP = "10.0.0.2:9090" })},
		{"flags win over env", []string{"--trusted-proxies=10.0.0.1", "--logs-max-days=9"}, map[string]string{"PB_TRUSTED_PROXIES": "::1", "PB_LOGS_MAX_DAYS": "0"},
			with(func(o *serveOptions) {
				o.TrustedProxies = clientip.New(netip.MustParsePrefix("10.0.0.1/32"))
				o.LogsMaxDays = 9
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServeArgs(tc.args, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseServeArgsErrors(t *testing.T) {
	emptyFile := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(emptyFile, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown flag", []string{"--nope"}, nil},
		{"positional", []string{"example.com"}, nil},
		{"flag without value", []string{"--dir"}, nil},
		{"empty http", []string{"--http="}, nil},
		{"email without password", nil, map[string]string{"PB_SUPERUSER_EMAIL": "a@example.com"}},
		{"password without email", nil, map[string]string{"PB_SUPERUSER_PASSWORD": "12345678"}},
		{"bad email", nil, map[string]string{"PB_SUPERUSER_EMAIL": "nope", "PB_SUPERUSER_PASSWORD": "12345678"}},
		{"short password", nil, map[string]string{"PB_SUPERUSER_EMAIL": "a@example.com", "PB_SUPERUSER_PASSWORD": "1234567"}},
		{"bad trusted proxy", []string{"--trusted-proxies=10.0.0.1,proxy.local"}, nil},
		{"bad trusted proxy from env", nil, map[string]string{"PB_TRUSTED_PROXIES": "10.0.0.0/40"}},
		{"negative log days", []string{"--logs-max-days=-1"}, nil},
		{"log days not a number", []string{"--logs-max-days=five"}, nil},
		{"log days from env not a number", nil, map[string]string{"PB_LOGS_MAX_DAYS": "5d"}},
		{"missing key file", []string{"--encryption-key-file=/nonexistent/key.txt"}, nil},
		{"empty key file", []string{"--encryption-key-file=" + emptyFile}, nil},
		{"key file and key", []string{"--encryption-key-file=" + emptyFile}, map[string]string{"PB_BACKUPS_ENCRYPTION_KEY": "AGE-SECRET-KEY-1X"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServeArgs(tc.args, env(tc.env))
			var uerr *usageError
			if !errors.As(err, &uerr) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
	if _, err := parseServeArgs([]string{"-h"}, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}

func TestParseUpsertArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want upsertOptions
	}{
		{"flags after positionals", []string{"upsert", "a@example.com", "password1", "--dir=/d"}, nil,
			upsertOptions{"a@example.com", "password1", "/d"}},
		{"flags before positionals", []string{"--dir", "/d", "upsert", "a@example.com", "password1"}, nil,
			upsertOptions{"a@example.com", "password1", "/d"}},
		{"flags between positionals", []string{"upsert", "--dir=/d", "a@example.com", "password1"}, nil,
			upsertOptions{"a@example.com", "password1", "/d"}},
		{"dir from environment", []string{"upsert", "a@example.com", "password1"}, map[string]string{"PB_DATA_DIR": "/env"},
			upsertOptions{"a@example.com", "password1", "/env"}},
		{"flag wins over environment", []string{"upsert", "a@example.com", "password1", "--dir=/flag"}, map[string]string{"PB_DATA_DIR": "/env"},
			upsertOptions{"a@example.com", "password1", "/flag"}},
		{"password starting with a dash after --", []string{"upsert", "--dir=/d", "--", "a@example.com", "-password1"}, nil,
			upsertOptions{"a@example.com", "-password1", "/d"}},
		{"default dir", []string{"upsert", "a@example.com", "password1"}, nil,
			upsertOptions{"a@example.com", "password1", mustAbs(t, defaultDataDir)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUpsertArgs(tc.args, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for name, args := range map[string][]string{
		"no subcommand":      nil,
		"unknown subcommand": {"delete", "a@example.com"},
		"missing password":   {"upsert", "a@example.com"},
		"extra argument":     {"upsert", "a@example.com", "password1", "more"},
		"bad email":          {"upsert", "Alice <a@example.com>", "password1"},
		"short password":     {"upsert", "a@example.com", "short"},
		"unknown flag":       {"upsert", "a@example.com", "password1", "--http=x"},
		"dash password":      {"upsert", "a@example.com", "-password1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseUpsertArgs(args, env(nil))
			var uerr *usageError
			if !errors.As(err, &uerr) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x")
	a := fs.String("a", "", "")
	b := fs.Bool("b", false, "")
	pos, err := parseInterspersed(fs, []string{"p1", "-a", "v", "p2", "-b", "p3", "--", "-a", "p4"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"p1", "p2", "p3", "-a", "p4"}; !reflect.DeepEqual(pos, want) {
		t.Errorf("positionals %q, want %q", pos, want)
	}
	if *a != "v" || !*b {
		t.Errorf("a=%q b=%v", *a, *b)
	}
}

// runCLI runs the command line and returns its exit code and output.
func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, env(vars), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		stderrNone bool
	}{
		{nil, exitUsage, "", "Usage:", false},
		{[]string{"-h"}, exitOK, "Usage:", "", true},
		{[]string{"help"}, exitOK, "testhost serve", "", true},
		{[]string{"serve", "-h"}, exitOK, "--plugins=DIR", "", true},
		{[]string{"superuser", "--help"}, exitOK, "testhost superuser upsert EMAIL PASSWORD", "", true},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`, false},
		{[]string{"serve", "--bogus"}, exitUsage, "", "flag provided but not defined: -bogus", false},
		{[]string{"superuser", "upsert", "a@example.com"}, exitUsage, "", "upsert takes EMAIL and PASSWORD", false},
		{[]string{"user", "create", "a@example.com", "password1"}, exitUsage, "", `unknown subcommand "create"`, false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
			if tc.stderrNone && stderr != "" {
				t.Errorf("stderr %q, want none", stderr)
			}
		})
	}
}

func TestRunSuperuserUpsert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pb_data")
	code, stdout, stderr := runCLI(t, nil, "superuser", "upsert", "root@example.com", "password-one", "--dir="+dir)
	if code != exitOK || stdout != "Successfully saved superuser root@example.com!\n" {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
	a, err := openApp(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	store := &authStore{db: a.db}
	first, err := store.FindByEmail(t.Context(), auth.SuperusersID, "root@example.com")
	a.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Again, with the directory from the environment and a new password.
	code, stdout, stderr = runCLI(t, map[string]string{"PB_DATA_DIR": dir}, "superuser", "upsert", "root@example.com", "password-two")
	if code != exitOK || !strings.Contains(stdout, "Successfully saved superuser root@example.com!") {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
	a, err = openApp(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	store = &authStore{db: a.db}
	second, err := store.FindByEmail(t.Context(), auth.SuperusersID, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.TokenKey == first.TokenKey ||
		bcrypt.CompareHashAndPassword([]byte(second.PasswordHash), []byte("password-two")) != nil {
		t.Errorf("update did not take: first %+v second %+v", first, second)
	}

	code, stdout, _ = runCLI(t, nil, "user", "upsert", "--dir="+dir, "someone@example.com", "password-three")
	if code != exitOK || stdout != "Successfully saved user someone@example.com!\n" {
		t.Errorf("user upsert: code %d stdout %q", code, stdout)
	}
	if _, err := store.FindByEmail(t.Context(), usersCollectionID, "someone@example.com"); err != nil {
		t.Errorf("user not saved: %v", err)
	}
}

func TestRunRuntimeErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, nil, "superuser", "upsert", "a@example.com", "password1", "--dir="+file)
	if code != exitRuntime || !strings.HasPrefix(stderr, "Error: ") {
		t.Errorf("upsert into a file: code %d stderr %q", code, stderr)
	}
	// serve with no plugin: the data dir opens, the host cannot start.
	dir := t.TempDir()
	code, _, stderr = runCLI(t, map[string]string{"PB_SUPERUSER_EMAIL": "a@example.com", "PB_SUPERUSER_PASSWORD": "password1"},
		"serve", "--http=127.0.0.1:0", "--dir="+filepath.Join(dir, "pb_data"), "--plugins="+filepath.Join(dir, "plugins"))
	if code != exitRuntime || !strings.Contains(stderr, "Error: ") {
		t.Errorf("serve without plugin: code %d stderr %q", code, stderr)
	}
	// A start that fails prints no first-start credentials it would lose.
	code, stdout, _ := runCLI(t, nil,
		"serve", "--http=127.0.0.1:0", "--dir="+filepath.Join(dir, "pb_data2"), "--plugins="+filepath.Join(dir, "plugins"))
	if code != exitRuntime || strings.Contains(stdout, "password") {
		t.Errorf("failed start: code %d stdout %q", code, stdout)
	}
	// The address is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr = runCLI(t, nil, "serve", "--http="+ln.Addr().String(), "--dir="+filepath.Join(dir, "pb_data3"))
	if code != exitRuntime || !strings.Contains(stderr, "listen") {
		t.Errorf("address in use: code %d stderr %q", code, stderr)
	}
}
