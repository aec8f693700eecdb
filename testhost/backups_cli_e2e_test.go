package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cliResult is one run of "testhost backups …".
type cliResult struct {
	code           int
	stdout, stderr string
}

// runBackupsCLI runs the built binary's backups command against p (nil:
// no app), with stdin and extra environment. With env nil it passes p's
// token (a login costs a bcrypt hash per run); any env, even empty, makes
// the command log in with the e-mail and password.
func runBackupsCLI(t *testing.T, bin string, p *proc, stdin string, env []string, args ...string) cliResult {
	t.Helper()
	if p != nil && env == nil && p.token != "" {
		args = append(args, "--token="+p.token)
	}
	cmd := exec.Command(bin, append([]string{"backups"}, args...)...)
	cmd.Env = append(os.Environ(), "PB_SUPERUSER_EMAIL="+e2eEmail, "PB_SUPERUSER_PASSWORD="+e2ePassword)
	if p != nil {
		cmd.Env = append(cmd.Env, "PB_URL="+p.url)
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func (r cliResult) want(t *testing.T, code int, fragments ...string) {
	t.Helper()
	all := r.stdout + r.stderr
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(all, f) {
			t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", f, r.stdout, r.stderr)
		}
	}
}

// downloadDirect fetches a backup's bytes through the API, as the
// reference for the command's downloads.
func (p *proc) downloadDirect(key string) []byte {
	p.t.Helper()
	var tok struct{ Token string }
	p.call("POST", "/api/files/token", nil, &tok)
	resp, err := http.Get(p.url + "/api/backups/" + url.PathEscape(key) + "?token=" + tok.Token)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		p.t.Fatalf("download %s: %d %v", key, resp.StatusCode, err)
	}
	return data
}

// addIncompressible puts n random bytes into the data directory's
// storage folder, so a backup has a size worth a progress bar.
func addIncompressible(t *testing.T, dataDir string, n int) {
	t.Helper()
	dir := filepath.Join(dataDir, "storage", "blobs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "random.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBackupsCLIOnline runs every online command of the built binary
// against a real testhost.
func TestBackupsCLIOnline(t *testing.T) {
	bin, pluginsDir := binaries(t)
	p := startProc(t, bin, pluginsDir, filepath.Join(t.TempDir(), "pb_data"), freeLoopback(t))
	work := t.TempDir()

	runBackupsCLI(t, bin, p, "", []string{}, "list").want(t, 0, "No backups yet")
	runBackupsCLI(t, bin, p, "", nil, "create", "first.zip", "--wait").want(t, 0, "Backup first.zip: done")
	r := runBackupsCLI(t, bin, p, "", nil, "list", "--json")
	r.want(t, 0)
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0]["key"] != "first.zip" || list[0]["size"].(float64) <= 0 {
		t.Fatalf("list --json: %v %s", err, r.stdout)
	}
	runBackupsCLI(t, bin, p, "", nil, "list").want(t, 0, "KEY", "first.zip", "UTC")
	// A name the API refuses: its reason and exit 1.
	runBackupsCLI(t, bin, p, "", nil, "create", "Bad Name!").want(t, 1, "Must be in a valid format")

	out := filepath.Join(work, "copy.zip")
	runBackupsCLI(t, bin, p, "", nil, "download", "first.zip", "-o", out).want(t, 0, "Downloaded first.zip")
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, p.downloadDirect("first.zip")) {
		t.Fatalf("downloaded bytes differ from the API's (%v)", err)
	}
	runBackupsCLI(t, bin, p, "", nil, "download", "first.zip", "-o", out).want(t, 2, "exists")
	runBackupsCLI(t, bin, p, "", nil, "download", "missing.zip", "-o", filepath.Join(work, "m.zip")).want(t, 1, "404")

	runBackupsCLI(t, bin, p, "", nil, "upload", out, "--name", "uploaded.zip").want(t, 0, "Uploaded uploaded.zip")
	runBackupsCLI(t, bin, p, "", nil, "upload", out, "--name", "uploaded.zip").want(t, 1, "already exists")
	runBackupsCLI(t, bin, p, "", nil, "list").want(t, 0, "uploaded.zip")
	runBackupsCLI(t, bin, p, "", nil, "delete", "uploaded.zip").want(t, 0, "Deleted uploaded.zip")
	runBackupsCLI(t, bin, p, "", nil, "delete", "uploaded.zip").want(t, 1, "404")

	// verify: this app may or may not have the endpoint yet.
	r = runBackupsCLI(t, bin, p, "", nil, "verify", "first.zip", "--wait")
	if r.code != 0 {
		r.want(t, 1, "no verify endpoint")
	}
	runBackupsCLI(t, bin, p, "", nil, "verify", "missing.zip").want(t, 1, "no such backup")

	// Restore refuses without the typed name; nothing happens.
	runBackupsCLI(t, bin, p, "wrong\n", nil, "restore", "first.zip").want(t, 2, "not confirmed")
	if h := p.health(); h["canBackup"] != true {
		t.Fatalf("a refused confirmation started something: %v", h)
	}

	// Credentials: a token works, a bad one and none are refused.
	runBackupsCLI(t, bin, p, "", []string{"PB_SUPERUSER_PASSWORD="}, "list", "--token", p.token).want(t, 0, "first.zip")
	runBackupsCLI(t, bin, p, "", []string{}, "list", "--token", "not-a-token").want(t, 1, "401")
	runBackupsCLI(t, bin, p, "", []string{"PB_SUPERUSER_EMAIL=", "PB_SUPERUSER_PASSWORD="}, "list").want(t, 2, "no credentials")
	runBackupsCLI(t, bin, p, "", []string{"PB_SUPERUSER_PASSWORD="}, "list").want(t, 2, "no password")
	runBackupsCLI(t, bin, p, "", []string{"PB_SUPERUSER_PASSWORD=wrong-password"}, "list").want(t, 1, "Failed to authenticate")
	runBackupsCLI(t, bin, p, "", nil, "list", "--url", "ftp://x").want(t, 2, "--url")
	runBackupsCLI(t, bin, p, "", nil, "lsit").want(t, 2, "unknown command")
	runBackupsCLI(t, bin, p, "", nil, "download").want(t, 2, "takes 1 argument")

	// Without --wait a create answers at once and runs on in the app.
	runBackupsCLI(t, bin, p, "", nil, "create", "second.zip").want(t, 0, "in the background")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if last, _ := p.health()["lastOperation"].(map[string]any); last["key"] == "second.zip" && last["ok"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background create did not finish: %v", p.health())
		}
	}
}

// TestBackupsCLIRestoreWait restores through the command and follows the
// app through its restart: the outcome and the API's down time are
// printed and the backup's data is served.
func TestBackupsCLIRestoreWait(t *testing.T) {
	bin, pluginsDir := binaries(t)
	p := startProc(t, bin, pluginsDir, filepath.Join(t.TempDir(), "pb_data"), freeLoopback(t))
	p.call("POST", "/api/collections/notes/records", map[string]string{"title": "before"}, nil)
	runBackupsCLI(t, bin, p, "", nil, "create", "snap.zip", "--wait").want(t, 0, "done")
	p.call("POST", "/api/collections/notes/records", map[string]string{"title": "after"}, nil)

	r := runBackupsCLI(t, bin, p, "snap.zip\n", []string{}, "restore", "snap.zip", "--wait", "--json")
	r.want(t, 0, "Type the backup's name")
	var res struct {
		Status      string
		DownSeconds *float64
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Status != "done" || res.DownSeconds == nil {
		t.Fatalf("restore --json: %v %s", err, r.stdout)
	}
	p.login()
	if titles := p.noteTitles(); strings.Join(titles, ",") != "before" {
		t.Fatalf("notes after the restore: %v", titles)
	}
	runBackupsCLI(t, bin, p, "", []string{}, "restore", "snap.zip", "--wait", "--yes").want(t, 0, "The API was down", "Restore of snap.zip: done")
}

// cutProxy forwards to an app and cuts the first download response
// after cutAt bytes (every one when always is set); it records the Range
// and If-Range headers of the downloads it forwards.
type cutProxy struct {
	target *url.URL
	cutAt  int64

	mu     sync.Mutex
	always bool
	cut    int
	ranges []string
}

func (c *cutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isDownload := r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/backups/")
	c.mu.Lock()
	cutThis := isDownload && (c.always || c.cut == 0)
	if isDownload {
		c.ranges = append(c.ranges, r.Header.Get("Range")+"|"+r.Header.Get("If-Range"))
		if cutThis {
			c.cut++
		}
	}
	c.mu.Unlock()
	if !cutThis {
		httputil.NewSingleHostReverseProxy(c.target).ServeHTTP(w, r)
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, c.target.String()+r.URL.RequestURI(), nil)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.CopyN(w, resp.Body, c.cutAt)
	panic(http.ErrAbortHandler) // the connection ends mid-body
}

func (c *cutProxy) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.ranges...)
}

// TestBackupsCLIDownloadResume cuts downloads mid-body: the command
// resumes with Range and If-Range, in the same run and in the next one,
// to bytes identical to the backup's.
func TestBackupsCLIDownloadResume(t *testing.T) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	addIncompressible(t, dataDir, 3<<20)
	runBackupsCLI(t, bin, p, "", nil, "create", "big.zip", "--wait").want(t, 0, "done")
	want := p.downloadDirect("big.zip")

	target, _ := url.Parse(p.url)
	proxy := &cutProxy{target: target, cutAt: 1 << 20}
	srv := &http.Server{Handler: proxy}
	addr := freeLoopback(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	via := []string{"PB_URL=http://" + addr}
	work := t.TempDir()

	// Cut once, resumed in the same run.
	out := filepath.Join(work, "same-run.zip")
	runBackupsCLI(t, bin, p, "", via, "download", "big.zip", "-o", out).want(t, 0, "resuming", "Downloaded big.zip")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("resumed download differs from the backup")
	}
	seen := proxy.seen()
	if len(seen) != 2 || seen[0] != "|" || !strings.HasPrefix(seen[1], "bytes=1048576-|") || strings.HasSuffix(seen[1], "|") {
		t.Fatalf("download requests (Range|If-Range): %q", seen)
	}

	// Cut with no retries: the part stays; the next run resumes it.
	proxy.mu.Lock()
	proxy.always, proxy.ranges = true, nil
	proxy.mu.Unlock()
	out = filepath.Join(work, "next-run.zip")
	runBackupsCLI(t, bin, p, "", via, "download", "big.zip", "-o", out, "--retries", "0").want(t, 1, "run the same command again to resume")
	if st, err := os.Stat(out + ".part"); err != nil || st.Size() != 1<<20 {
		t.Fatalf("kept part: %v %v", st, err)
	}
	proxy.mu.Lock()
	proxy.always, proxy.ranges = false, nil
	proxy.mu.Unlock()
	runBackupsCLI(t, bin, p, "", via, "download", "big.zip", "-o", out).want(t, 0, "Downloaded big.zip")
	if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
		t.Fatal("download resumed in a second run differs from the backup")
	}
	if seen := proxy.seen(); len(seen) != 1 || !strings.HasPrefix(seen[0], "bytes=1048576-|") {
		t.Fatalf("second run's requests: %q", seen)
	}
	if _, err := os.Stat(out + ".part"); !os.IsNotExist(err) {
		t.Fatalf("part file left behind: %v", err)
	}
}

// TestBackupsCLIOffline: offline commands refuse a data dir an app
// serves; on a stopped app they create a zip, verify it, and restore it
// into a fresh data dir that an app then serves.
func TestBackupsCLIOffline(t *testing.T) {
	bin, pluginsDir := binaries(t)
	dataDir := filepath.Join(t.TempDir(), "pb_data")
	p := startProc(t, bin, pluginsDir, dataDir, freeLoopback(t))
	p.call("POST", "/api/collections/notes/records", map[string]string{"title": "kept"}, nil)
	work := t.TempDir()
	zip := filepath.Join(work, "offline.zip")
	off := []string{"--offline", "--dir=" + dataDir, "--plugins=" + pluginsDir}

	runBackupsCLI(t, bin, nil, "", nil, append([]string{"create", "-o", zip}, off...)...).want(t, 1, "in use", "stop the app first")
	runBackupsCLI(t, bin, p, "", nil, "create", "online.zip", "--wait").want(t, 0, "done")
	online := filepath.Join(work, "online.zip")
	if err := os.WriteFile(online, p.downloadDirect("online.zip"), 0o600); err != nil {
		t.Fatal(err)
	}
	runBackupsCLI(t, bin, nil, "", nil, append([]string{"restore", online, "--yes"}, off...)...).want(t, 1, "in use")
	if titles := p.noteTitles(); strings.Join(titles, ",") != "kept" {
		t.Fatalf("a refused offline restore touched the data: %v", titles)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("testhost stop: %v", err)
	}
	runBackupsCLI(t, bin, nil, "", nil, append([]string{"create", "-o", zip}, off...)...).want(t, 0, "written to "+zip)
	runBackupsCLI(t, bin, nil, "", nil, append([]string{"create", "-o", zip}, off...)...).want(t, 2, "exists")
	runBackupsCLI(t, bin, nil, "", nil, append([]string{"create", "stored.zip"}, off...)...).want(t, 0, "stored.zip")
	if _, err := os.Stat(filepath.Join(dataDir, "backups", "stored.zip")); err != nil {
		t.Fatalf("offline create into the default storage: %v", err)
	}
	runBackupsCLI(t, bin, nil, "", nil, "verify", "--offline", zip, "--plugins="+pluginsDir).want(t, 0, "ok", "quick")
	runBackupsCLI(t, bin, nil, "", nil, "verify", "--offline", zip, "--deep", "--plugins="+pluginsDir).want(t, 0, "ok", "quick_check")
	data, err := os.ReadFile(zip)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(work, "bad.zip")
	if err := os.WriteFile(bad, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	runBackupsCLI(t, bin, nil, "", nil, "verify", "--offline", bad, "--plugins="+pluginsDir).want(t, 1, "not a good backup")

	// Disaster recovery: a fresh data dir from the zip, then served.
	fresh := filepath.Join(t.TempDir(), "pb_data")
	runBackupsCLI(t, bin, nil, "", nil, "restore", "--offline", zip, "--dir="+fresh, "--plugins="+pluginsDir, "--yes").want(t, 0, "Restored offline.zip")
	// A key of the storage, typed to confirm.
	runBackupsCLI(t, bin, nil, "stored.zip\n", nil, append([]string{"restore", "stored.zip"}, off...)...).want(t, 0, "Restored stored.zip")
	runBackupsCLI(t, bin, nil, "", nil, "restore", "--offline", bad, "--dir="+fresh, "--plugins="+pluginsDir, "--yes").want(t, 1, "left as it was")
	q := startProc(t, bin, pluginsDir, fresh, freeLoopback(t))
	if titles := q.noteTitles(); strings.Join(titles, ",") != "kept" {
		t.Fatalf("notes served from the offline restore: %v", titles)
	}
}
