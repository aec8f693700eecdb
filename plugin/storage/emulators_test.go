package storage_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// The protocol emulators the cloud stores are tested against, as
// subprocesses: Azurite (npm, installed by `make emulators` from
// testdata/emulators/package-lock.json) and fake-gcs-server (built by
// `make emulators` into bin/tools). Both hold everything in memory. The
// test process's environment points gocloud at them (see TestMain):
// Azurite's well-known development account, and STORAGE_EMULATOR_HOST,
// which makes gcsblob use an unauthenticated client.

// Azurite's well-known development account (public; documented by
// Microsoft for the emulator).
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

var (
	azuriteBin = filepath.Join("testdata", "emulators", "node_modules", ".bin", "azurite-blob")
	fakeGCSBin = filepath.Join("..", "..", "bin", "tools", "fake-gcs-server")
)

// emulators are the subprocesses started by this test binary; TestMain
// stops them.
var emulators struct {
	mu    sync.Mutex
	procs []*exec.Cmd
}

func stopEmulators() {
	emulators.mu.Lock()
	defer emulators.mu.Unlock()
	for _, cmd := range emulators.procs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	emulators.procs = nil
}

// startEmulator starts bin with args and env added, and returns once a line
// of its output matches ready (its first group, if any, is returned).
func startEmulator(name, bin string, args, env []string, ready *regexp.Regexp) (string, error) {
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s is not installed at %s (run `make emulators`; `make test` does): %w", name, bin, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	setEmulatorProcAttr(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", name, err)
	}
	emulators.mu.Lock()
	emulators.procs = append(emulators.procs, cmd)
	emulators.mu.Unlock()
	found := make(chan string, 1)
	var seen bytes.Buffer
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil && len(found) == 0 {
				found <- m[len(m)-1]
			} else if len(found) == 0 {
				seen.WriteString(sc.Text() + "\n")
			}
		}
		close(found)
	}()
	select {
	case got, ok := <-found:
		if !ok {
			return "", fmt.Errorf("%s exited before it was ready:\n%s", name, seen.String())
		}
		return got, nil
	case <-time.After(2 * time.Minute): // npm's node start on a loaded machine
		return "", fmt.Errorf("%s did not start within 2 minutes", name)
	}
}

// azurite is a running Azurite blob service.
type azurite struct {
	addr   string // 127.0.0.1:port
	client *azblob.Client
}

var (
	azuriteOnce   sync.Once
	azuriteShared *azurite
	azuriteErr    error
)

// sharedAzurite returns the package's Azurite, started on first use.
func sharedAzurite(t *testing.T) *azurite {
	t.Helper()
	azuriteOnce.Do(func() { azuriteShared, azuriteErr = startAzurite(nil) })
	if azuriteErr != nil {
		skipOrFail(t, azuriteErr)
	}
	return azuriteShared
}

// startAzurite starts an Azurite blob service in memory; env may set
// AZURITE_ACCOUNTS to give the development account another key.
func startAzurite(env []string) (*azurite, error) {
	addr, err := startEmulator("Azurite", azuriteBin, []string{
		"--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--extentMemoryLimit", "512",
		"--skipApiVersionCheck", "--disableTelemetry", "--silent",
	}, env, regexp.MustCompile(`listens on http://(127\.0\.0\.1:\d+)`))
	if err != nil {
		return nil, err
	}
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		return nil, err
	}
	client, err := azblob.NewClientWithSharedKeyCredential("http://"+addr+"/"+azuriteAccount, cred, nil)
	if err != nil {
		return nil, err
	}
	return &azurite{addr: addr, client: client}, nil
}

var containerSeq atomic.Int64

// newContainer creates a fresh container and returns its name.
func (a *azurite) newContainer(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("c%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1))
	if _, err := a.client.CreateContainer(t.Context(), name, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return name
}

// url is the azblob:// URL of container on a.
func (a *azurite) url(container string) string {
	return "azblob://" + container + "?protocol=http&domain=" + a.addr
}

// fakeGCS is a running fake-gcs-server.
type fakeGCS struct {
	addr string
}

var (
	fakeGCSOnce   sync.Once
	fakeGCSShared *fakeGCS
	fakeGCSErr    error
)

// sharedFakeGCS returns the package's fake-gcs-server, started on first
// use, and points STORAGE_EMULATOR_HOST at it.
func sharedFakeGCS(t *testing.T) *fakeGCS {
	t.Helper()
	fakeGCSOnce.Do(func() {
		fakeGCSShared, fakeGCSErr = startFakeGCS()
		if fakeGCSErr == nil {
			os.Setenv("STORAGE_EMULATOR_HOST", fakeGCSShared.addr)
		}
	})
	if fakeGCSErr != nil {
		skipOrFail(t, fakeGCSErr)
	}
	return fakeGCSShared
}

func startFakeGCS() (*fakeGCS, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + port
	if _, err := startEmulator("fake-gcs-server", fakeGCSBin, []string{
		"-scheme", "http", "-host", "127.0.0.1", "-port", port, "-backend", "memory",
		"-public-host", addr, "-external-url", "http://" + addr, "-log-level", "info",
	}, nil, regexp.MustCompile(`server started`)); err != nil {
		return nil, err
	}
	return &fakeGCS{addr: addr}, nil
}

var gcsBucketSeq atomic.Int64

// newBucket creates a fresh bucket and returns its name.
func (f *fakeGCS) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("b%d-%d", time.Now().UnixNano()%1e9, gcsBucketSeq.Add(1))
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+f.addr+"/storage/v1/b?project=test", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("create bucket: %s %s", resp.Status, msg)
	}
	return name
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// skipOrFail skips a test whose emulator is not installed, saying why,
// unless PB_REQUIRE_EMULATORS is set (make test sets it: there the
// emulators are installed and a skip would hide a failure).
func skipOrFail(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("PB_REQUIRE_EMULATORS") != "" {
		t.Fatal(err)
	}
	t.Skip("skipped: ", err)
}

// silentListener accepts TCP connections on loopback and never answers:
// a store that is up but hung. It returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + port
}

// within runs f and fails the test if it takes longer than limit, which
// should be generous: it proves "bounded", not a speed.
func within(t *testing.T, limit time.Duration, what string, f func(ctx context.Context) error) error {
	t.Helper()
	start := time.Now()
	err := f(t.Context())
	if took := time.Since(start); took > limit {
		t.Errorf("%s took %s, want under %s", what, took.Round(time.Millisecond), limit)
	}
	return err
}

// noSecrets fails the test if err's text contains one of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}
