// Package js runs the JavaScript SDK scenarios in test/ with Node against
// real bin/testhost processes serving real plugins, all built by the test:
// hosts A and B with the stock plugin, plus, for the plugin swap scenario,
// one host per plugin binary (the stock one and the example manifest-plugin
// with its own storage). An in-process S3-protocol server on loopback
// stands in for S3.
package js

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

// ballastSize is the incompressible file host B keeps in its data
// directory, so that a create there runs long enough (about half a second)
// for a scenario to meet it with a second request.
const ballastSize = 200 << 20

// nodeTimeout bounds the whole node run.
const nodeTimeout = 4 * time.Minute

// The plugin binaries the test builds into one plugins directory; every
// host names the one it runs.
const (
	stockPlugin    = "pocketbackup-plugin"
	manifestPlugin = "manifest-plugin"
)

// s3Bucket is the bucket the fake S3 server holds for the S3 scenario.
const s3Bucket = "pocketbackup-sdk"

// swapHost is one host of the plugin swap scenario, as PB_SWAP_HOSTS
// describes it to node (JSON).
type swapHost struct {
	Plugin   string `json:"plugin"`
	URL      string `json:"url"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// Storage is "file" (the backups are DataDir/backups/KEY) or
	// "manifest" (StorageDir/manifest.json lists them).
	Storage    string `json:"storage"`
	DataDir    string `json:"dataDir"`
	StorageDir string `json:"storageDir,omitempty"`
}

// TestSDKScenarios runs every test/*.test.mjs with node's test runner,
// one file after another, against fresh test hosts.
//
// While working on scenarios: PB_JS_TESTS="test/a.test.mjs …" runs only
// those files, and PB_JS_HOST_LOGS=1 prints the hosts' logs even when
// everything passed.
func TestSDKScenarios(t *testing.T) { runSDKScenarios(t, false) }

// TestSDKScenariosEncrypted runs every scenario again with encryption at
// rest on in every host (host A takes its key from
// PB_BACKUPS_ENCRYPTION_KEY, the others from --encryption-key-file): the
// SDKs see no difference, and the scenarios that read storage directly
// decrypt it with PB_AGE_DECRYPT and check it holds only ciphertext.
func TestSDKScenariosEncrypted(t *testing.T) { runSDKScenarios(t, true) }

func runSDKScenarios(t *testing.T, encrypted bool) {
	if _, err := os.Stat("node_modules/bosbase"); err != nil {
		t.Fatal("examples/js/node_modules is missing: run `make test` (it runs `npm ci` here) or `npm ci` in examples/js")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the SDK scenarios: ", err)
	}
	bins := buildBinaries(t)
	var keyFile string
	var nodeEnv []string
	if encrypted {
		keyFile = writeKeyFile(t)
		nodeEnv = []string{"PB_AGE_KEY_FILE=" + keyFile, "PB_TESTHOST=" + bins.testhost}
	}
	s3URL := startFakeS3(t, s3Bucket)
	a := startTestHost(t, bins, hostOptions{
		name:  "a",
		email: "sdk-admin@example.com", password: "sdk-password-123",
		userEmail: "sdk-user@example.com", userPassword: "sdk-user-password-123",
		plugin: stockPlugin, keyFile: keyFile, keyInEnv: true,
	})
	b := startTestHost(t, bins, hostOptions{
		name:  "b",
		email: "sdk-admin2@example.com", password: "sdk-password-456",
		ballast: ballastSize,
		plugin:  stockPlugin, keyFile: keyFile,
	})

	// The plugin swap scenario: the same SDK scenario against a host with
	// each plugin binary, one after the other.
	var swap []swapHost
	for _, p := range []struct{ plugin, storage string }{{stockPlugin, "file"}, {manifestPlugin, "manifest"}} {
		o := hostOptions{
			name:  "swap-" + p.plugin,
			email: "sdk-swap@example.com", password: "sdk-swap-password-789",
			plugin: p.plugin, keyFile: keyFile,
		}
		var storageDir string
		if p.storage == "manifest" {
			storageDir = filepath.Join(t.TempDir(), "backups")
			o.storage = "manifest://" + filepath.ToSlash(storageDir)
		}
		h := startTestHost(t, bins, o)
		swap = append(swap, swapHost{
			Plugin: p.plugin, URL: h.url, Email: h.email, Password: h.password,
			Storage: p.storage, DataDir: h.dataDir, StorageDir: storageDir,
		})
	}
	swapJSON, err := json.Marshal(swap)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	files := strings.Fields(os.Getenv("PB_JS_TESTS"))
	if len(files) == 0 {
		files = []string{"test/"}
	}
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"PB_URL="+a.url, "PB_EMAIL="+a.email, "PB_PASSWORD="+a.password, "PB_DATA_DIR="+a.dataDir,
		"PB_USER_EMAIL="+a.userEmail, "PB_USER_PASSWORD="+a.userPassword,
		"PB_URL2="+b.url, "PB_EMAIL2="+b.email, "PB_PASSWORD2="+b.password, "PB_DATA_DIR2="+b.dataDir,
		"PB_S3_ENDPOINT="+s3URL, "PB_S3_BUCKET="+s3Bucket,
		"PB_SWAP_HOSTS="+string(swapJSON),
	)
	cmd.Env = append(cmd.Env, nodeEnv...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("SDK scenarios failed: %v", err)
	}
	if !strings.Contains(string(out), "pass ") {
		t.Fatal("node ran no test")
	}
}

// binaries are testhost (whose "backups decrypt" the scenarios use to
// read an encrypted backup as an operator would) and the plugins
// directory it runs the plugin from.
type binaries struct {
	testhost, plugins string
}

// writeKeyFile writes a new age keys file and returns its path.
func writeKeyFile(t *testing.T) string {
	t.Helper()
	text, err := atrest.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backups.agekey")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildBinaries builds testhost and both plugins, the stock one and the
// example storage plugin, each with its .sha256 file (sha256sum's format),
// into a temp dir.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	bins := binaries{testhost: filepath.Join(dir, "testhost"), plugins: filepath.Join(dir, "plugins")}
	goBuild(t, bins.testhost, "../../testhost")
	for name, pkg := range map[string]string{
		stockPlugin:    "../../plugin/cmd/pocketbackup-plugin",
		manifestPlugin: "../../examples/storage-plugin",
	} {
		bin := filepath.Join(bins.plugins, name)
		goBuild(t, bin, pkg)
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if err := os.WriteFile(bin+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bins
}

// startFakeS3 serves an S3-protocol server (gofakes3 over its in-memory
// backend) on loopback with one bucket, until the test ends, and returns
// its endpoint URL. It accepts any credentials.
func startFakeS3(t *testing.T, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

// hostOptions describe one test host to start.
type hostOptions struct {
	name                    string // in logs
	email, password         string // the superuser
	userEmail, userPassword string // a "users" record, when set
	ballast                 int64  // bytes of incompressible data in pb_data/storage
	plugin                  string // --plugin: the binary in the plugins directory
	storage                 string // --storage, when set
	keyFile                 string // encryption at rest with these keys, when set
	keyInEnv                bool   // the keys in PB_BACKUPS_ENCRYPTION_KEY, not --encryption-key-file
}

// testHost is a running bin/testhost.
type testHost struct {
	url, dataDir            string
	email, password         string
	userEmail, userPassword string
}

// startTestHost prepares a fresh data directory (users record, ballast),
// serves it on a free loopback port with a known superuser and stops the
// host at cleanup.
func startTestHost(t *testing.T, bins binaries, o hostOptions) testHost {
	t.Helper()
	dir := t.TempDir()
	h := testHost{
		dataDir: filepath.Join(dir, "pb_data"),
		email:   o.email, password: o.password,
		userEmail: o.userEmail, userPassword: o.userPassword,
	}
	if o.userEmail != "" {
		cmd := exec.Command(bins.testhost, "user", "upsert", o.userEmail, o.userPassword, "--dir="+h.dataDir)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("host %s: user upsert: %v\n%s", o.name, err, msg)
		}
	}
	if o.ballast > 0 {
		writeBallast(t, filepath.Join(h.dataDir, "storage", "ballast.bin"), o.ballast)
	}

	addr := freeAddr(t)
	h.url = "http://" + addr
	args := []string{"serve", "--http=" + addr, "--dir=" + h.dataDir, "--plugins=" + bins.plugins, "--plugin=" + o.plugin}
	if o.storage != "" {
		args = append(args, "--storage="+o.storage)
	}
	env := []string{"PB_SUPERUSER_EMAIL=" + o.email, "PB_SUPERUSER_PASSWORD=" + o.password}
	switch {
	case o.keyFile != "" && o.keyInEnv:
		text, err := os.ReadFile(o.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "PB_BACKUPS_ENCRYPTION_KEY="+string(text))
	case o.keyFile != "":
		args = append(args, "--encryption-key-file="+o.keyFile)
	}
	cmd := exec.Command(bins.testhost, args...)
	cmd.Env = append(os.Environ(), env...)
	logFile, err := os.Create(filepath.Join(dir, "testhost.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("host %s: testhost did not stop within 15s of SIGTERM", o.name)
		}
		logFile.Close()
		if t.Failed() || os.Getenv("PB_JS_HOST_LOGS") != "" {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("host %s: testhost log:\n%s", o.name, log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.url + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("host %s: testhost did not answer /api/health within 30s:\n%s", o.name, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeBallast writes size pseudo-random (incompressible) bytes to path.
func writeBallast(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{'b', 'a', 'l', 'l', 'a', 's', 't'})
	if _, err := io.CopyN(f, src, size); err != nil {
		f.Close()
		t.Fatalf("write ballast: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("write ballast: %v", err)
	}
}

func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
