package host_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// writeBigFile writes size incompressible bytes (a 1 MiB random block
// repeated: far beyond deflate's window) to path.
func writeBigFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	block := noise(7, 1<<20)
	for written := 0; written < size; written += len(block) {
		if _, err := f.Write(block[:min(len(block), size-written)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitRunning polls /api/health until an operation of kind shows
// bytesDone > 0, and returns it. It fails when the operation ends first.
func (e *env) waitRunning(kind string) map[string]any {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		data := e.health()
		op, _ := data["operation"].(map[string]any)
		if op == nil {
			if data["canBackup"] == true {
				e.t.Fatalf("the %s ended before it showed progress: %v", kind, data["lastOperation"])
			}
			continue
		}
		if done, _ := op["bytesDone"].(float64); op["kind"] == kind && done > 0 {
			return op
		}
	}
	e.t.Fatalf("no %s progress within 30s", kind)
	return nil
}

// killPlugin SIGKILLs the running plugin and returns its PID.
func (e *env) killPlugin() int {
	e.t.Helper()
	pid := e.host.PluginPID()
	if pid <= 0 {
		e.t.Fatalf("no plugin running (pid %d)", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	return pid
}

// assertRelaunched checks that the plugin now running is not killed.
func (e *env) assertRelaunched(killed int) {
	e.t.Helper()
	if pid := e.host.PluginPID(); pid <= 0 || pid == killed {
		e.t.Fatalf("plugin pid %d after killing %d: want a fresh one", pid, killed)
	}
}

// assertFailedCleanly checks a failed operation's outcome: the lock is
// free, the error is the plugin's stop, said without internals.
func (e *env) assertFailedCleanly(kind, key, wantMsg string) {
	e.t.Helper()
	last := e.waitIdle()
	msg, _ := last["error"].(string)
	if last["ok"] != false || last["kind"] != kind || last["key"] != key || !strings.Contains(msg, wantMsg) || strings.Contains(msg, e.dataDir) {
		e.t.Fatalf("lastOperation = %v; want a failed %s of %s saying %q", last, kind, key, wantMsg)
	}
	if h := e.health(); h["canBackup"] != true {
		e.t.Fatalf("lock still held: %v", h)
	}
}

// TestPluginKilledMidOperation SIGKILLs the real plugin during a create,
// a download, an upload and a restore's staging. Each time the failure is
// reported clearly, the lock is free, nothing partial is listed, and the
// next operation succeeds on a fresh plugin.
func TestPluginKilledMidOperation(t *testing.T) {
	re := newRestoreEnv(t, nil)
	e := re.env
	big := filepath.Join(e.dataDir, "storage", "big.bin")
	writeBigFile(t, big, 192<<20)

	// Create: killed once the archive is under way.
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"killed.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	e.waitRunning("create")
	killed := e.killPlugin()
	e.assertFailedCleanly("create", "killed.zip", "the backup plugin stopped")
	if keys := e.keys(); len(keys) != 0 {
		t.Fatalf("listed after a killed create: %v", keys)
	}
	e.assertRelaunched(killed)
	// The list above ran on the fresh plugin: the dead temp file is gone.
	if left := storeLeftovers(t, e.dataDir); len(left) != 0 {
		t.Fatalf("store holds %v after a killed create and a list", left)
	}
	e.createAndWait("big.zip")
	if keys := e.keys(); !slices.Equal(keys, []string{"big.zip"}) {
		t.Fatalf("listed %v", keys)
	}
	bigSize := storedSize(t, e, "big.zip")

	t.Run("download", func(t *testing.T) {
		// From the local store the host sends the file itself (sendfile):
		// the plugin dying mid-download must not matter. Either way the
		// body is never a short one taken for a whole backup.
		resp, err := http.Get(e.server.URL + "/api/backups/big.zip?token=" + e.superFile)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != bigSize {
			t.Fatalf("download: %d, %d bytes announced", resp.StatusCode, resp.ContentLength)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
			t.Fatal(err)
		}
		killed := e.killPlugin()
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch got := (1 << 20) + n; {
		case err == nil && got != bigSize:
			t.Fatalf("download ended cleanly after %d of %d bytes", got, bigSize)
		case err != nil && got >= bigSize:
			t.Fatalf("download failed after the whole body: %v", err)
		default:
			t.Logf("download after the plugin died: %d of %d bytes, error %v", got, bigSize, err)
		}
		if got := int64(len(e.download("big.zip"))); got != bigSize {
			t.Fatalf("download on the fresh plugin: %d bytes, want %d", got, bigSize)
		}
		e.assertRelaunched(killed)
		if h := e.health(); h["canBackup"] != true {
			t.Fatalf("health after the download: %v", h)
		}
	})

	t.Run("upload", func(t *testing.T) {
		before := uploadTemps(t)
		pr, pw := io.Pipe()
		// Whatever happens, the body ends with the test: a request left
		// open would block the server's Close.
		defer pw.CloseWithError(io.ErrClosedPipe)
		a := startEndlessUpload(e, pr, pw, "cut.zip")
		// Kill once the plugin holds a few MiB of it (in the store's temp
		// file, or in its spool file for stores that cannot read back).
		waitUploadGrowing(t, filepath.Join(e.dataDir, "backups"), before, 4<<20)
		killed := e.killPlugin()
		// The host reads the rest of a failed part before answering (so
		// that clients which cannot read an early answer see it): the
		// client ends its body, and the answer must follow at once.
		_ = pw.Close()
		a.check(t)
		if keys := e.keys(); !slices.Equal(keys, []string{"big.zip"}) {
			t.Fatalf("listed after a killed upload: %v", keys)
		}
		e.assertRelaunched(killed)
		// The list above ran on the fresh plugin: the dead temp file is gone.
		if left := storeLeftovers(t, e.dataDir, "big.zip"); len(left) != 0 {
			t.Fatalf("store holds %v after a killed upload and a list", left)
		}
		for _, f := range uploadTemps(t) {
			if !slices.Contains(before, f) {
				t.Errorf("the killed plugin's spool file is left: %s", f)
				_ = os.Remove(f)
			}
		}
		up, upType := multipartBody("file", "after.zip", zipOf(t, map[string]string{"data.db": "x"}))
		if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
			t.Fatalf("upload on the fresh plugin: %d %s", status, body)
		}
		if status, body, _ := e.do("DELETE", "/api/backups/after.zip", e.superTok, "", nil); status != 204 {
			t.Fatal(status, body)
		}
	})

	t.Run("restore staging", func(t *testing.T) {
		if status, body, _ := e.do("POST", "/api/backups/big.zip/restore", e.superTok, "", nil); status != 204 {
			t.Fatal(status, body)
		}
		e.waitRunning("restore")
		killed := e.killPlugin()
		e.assertFailedCleanly("restore", "big.zip", "the backup plugin stopped")
		if re.shutdowns != 0 {
			t.Fatal("the app was stopped for a restore whose staging failed")
		}
		if got := countNotes(t, filepath.Join(e.dataDir, "data.db")); got != 50 {
			t.Fatalf("notes = %d, want the untouched 50", got)
		}
		if left, _ := os.ReadDir(filepath.Join(e.dataDir, ".pb_temp_to_delete")); len(left) != 0 {
			t.Fatalf("staging left behind: %v", left)
		}
		if keys := e.keys(); !slices.Equal(keys, []string{"big.zip"}) {
			t.Fatalf("listed %v", keys)
		}
		e.assertRelaunched(killed)
	})

	// The next create works on a fresh plugin, and no temp file is left.
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	e.createAndWait("after_faults.zip")
	if left := storeLeftovers(t, e.dataDir, "big.zip", "after_faults.zip"); len(left) != 0 {
		t.Fatalf("store leftovers after the faults: %v", left)
	}
}

// storedSize returns the size of key's file in the local store.
func storedSize(t *testing.T, e *env, key string) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.dataDir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if ent.Name() == key {
			info, err := ent.Info()
			if err != nil {
				t.Fatal(err)
			}
			return info.Size()
		}
	}
	t.Fatalf("%s not in the store", key)
	return 0
}

// waitUploadGrowing waits until an upload being received holds at least
// size bytes: a temp file in the store, or a new spool file.
func waitUploadGrowing(t *testing.T, storeDir string, spoolBefore []string, size int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		candidates, _ := filepath.Glob(filepath.Join(storeDir, ".tmp-*"))
		for _, f := range uploadTemps(t) {
			if !slices.Contains(spoolBefore, f) {
				candidates = append(candidates, f)
			}
		}
		for _, f := range candidates {
			if info, err := os.Stat(f); err == nil && info.Size() >= size {
				return
			}
		}
	}
	t.Fatal("the plugin never received the upload")
}

// endlessUpload is an upload request whose body never ends by itself.
type endlessUpload struct {
	done   chan struct{}
	status int
	body   string
	err    error
}

// startEndlessUpload posts an upload of key whose file part is written
// to pw, 256 KiB at a time, until pw is closed.
func startEndlessUpload(e *env, pr *io.PipeReader, pw *io.PipeWriter, key string) *endlessUpload {
	const bd = "KiLlBoUnDaRy"
	go func() {
		_, err := fmt.Fprintf(pw, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\n\r\nPK\x03\x04", bd, key)
		block := noise(3, 256<<10)
		for err == nil {
			_, err = pw.Write(block)
		}
	}()
	req, _ := http.NewRequest("POST", e.server.URL+"/api/backups/upload", pr)
	req.Header.Set("Authorization", e.superTok)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+bd)
	u := &endlessUpload{done: make(chan struct{})}
	go func() {
		defer close(u.done)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			u.err = err
			return
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		u.status, u.body, u.err = resp.StatusCode, string(data), err
	}()
	return u
}

// check waits for the answer to an upload whose plugin died: a failed
// request or a 500 in the contract's shape, never a success.
func (u *endlessUpload) check(t *testing.T) {
	t.Helper()
	select {
	case <-u.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s to an upload whose plugin died and whose body ended")
	}
	switch {
	case u.err != nil:
		t.Logf("upload request failed: %v", u.err)
	case u.status == 500:
		assertAPIError(t, "upload", u.status, u.body, http.Header{"Content-Type": {"application/json"}}, 500)
	default:
		t.Fatalf("upload answered %d %s after the plugin died", u.status, u.body)
	}
}

// TestStorageFull backs up more than the backups filesystem holds (an
// 8 MiB tmpfs): the create fails saying so, nothing partial remains, the
// app keeps serving, and a small backup afterwards succeeds.
func TestStorageFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	e := newEnvWith(t, func(cfg *host.Config) { cfg.StorageURL = "file://" + dir })
	big := filepath.Join(e.dataDir, "storage", "big.bin")
	writeBigFile(t, big, 24<<20)
	storeFiles := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ent := range entries {
			names = append(names, ent.Name())
		}
		// A backup's digest sidecar is part of it.
		all := slices.Clone(names)
		return slices.DeleteFunc(names, func(n string) bool {
			return slices.ContainsFunc(all, func(key string) bool { return digestSidecar(key) == n })
		})
	}

	// The free-space check reads the real tmpfs and refuses at once.
	status, body, hdr := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"too_big.zip"}`))
	assertAPIError(t, "create into a full store", status, body, hdr, 507)
	if want := `"message":"Not enough free space in the backups folder: needs 1`; !strings.Contains(body, want) {
		t.Fatalf("create into a full store: %s, want %s", strings.TrimSpace(body), want)
	}
	// A check that believes there is room (the space taken meanwhile by
	// someone else): the create fails half-way, saying so, leaving nothing.
	host.SetFreeSpace(e.host, func(string) (int64, uint64, error) { return 1 << 40, 1, nil })
	if status, body, _ := e.do("POST", "/api/backups", e.superTok, "application/json", strings.NewReader(`{"name":"too_big.zip"}`)); status != 204 {
		t.Fatal(status, body)
	}
	e.assertFailedCleanly("create", "too_big.zip", "not enough free space")
	if names := storeFiles(); len(names) != 0 {
		t.Fatalf("the full store holds %v after the failed create", names)
	}
	if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 || body != "[]\n" {
		t.Fatalf("list on a full store: %d %s", status, body)
	}

	// An upload bigger than the store fails too, leaving nothing.
	before := uploadTemps(t)
	up, upType := multipartBody("file", "too_big_upload.zip", storedZip(t, 12<<20))
	status, body, hdr = e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t)))
	// The contract: 507 with exactly this message, in the error shape.
	assertAPIError(t, "upload into a full store", status, body, hdr, 507)
	if want := `"message":"Not enough free space in the backups storage."`; !strings.Contains(body, want) {
		t.Fatalf("upload into a full store: %s, want %s", strings.TrimSpace(body), want)
	}
	if names := storeFiles(); len(names) != 0 {
		t.Fatalf("the full store holds %v after the failed upload", names)
	}
	assertNoNewTemps(t, before)

	// Freed: the data is small again, and a backup fits.
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	e.createAndWait("small.zip")
	if names := storeFiles(); !slices.Equal(names, []string{"small.zip"}) {
		t.Fatalf("store holds %v", names)
	}
	if keys := e.keys(); !slices.Equal(keys, []string{"small.zip"}) {
		t.Fatalf("listed %v", keys)
	}
}

// TestPluginKilledDuringStreamedDownload: from S3 the plugin streams the
// backup through the host; killing it mid-download cuts the connection
// (never a short body that looks whole), and the next download is whole.
func TestPluginKilledDuringStreamedDownload(t *testing.T) {
	endpoint := fakeS3(t, "fault-bucket")
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = &memSettings{} })
	s3 := `{"backups":{"s3":{"enabled":true,"bucket":"fault-bucket","region":"us-east-1","endpoint":"` + endpoint + `","accessKey":"AKIDEXAMPLE","secret":"SECRETEXAMPLE","forcePathStyle":true}}}`
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(s3)); status != 200 {
		t.Fatal(status, body)
	}
	payload := storedZip(t, 64<<20)
	up, upType := multipartBody("file", "streamed.zip", payload)
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatal(status, body)
	}
	resp, err := http.Get(e.server.URL + "/api/backups/streamed.zip?token=" + e.superFile)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(payload)) {
		t.Fatalf("download: %d, %d bytes announced", resp.StatusCode, resp.ContentLength)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	killed := e.killPlugin()
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := (1 << 20) + n; err == nil || got >= int64(len(payload)) {
		t.Fatalf("download after the plugin died: %d of %d bytes, error %v; want a cut", got, len(payload), err)
	}
	t.Logf("download cut after %d of %d bytes: %v", (1<<20)+n, len(payload), err)
	if h := e.health(); h["canBackup"] != true {
		t.Fatalf("health after the download: %v", h)
	}
	if got := e.download("streamed.zip"); !bytes.Equal(got, payload) {
		t.Fatalf("download on the fresh plugin: %d bytes, want the %d uploaded", len(got), len(payload))
	}
	e.assertRelaunched(killed)
}
