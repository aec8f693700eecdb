package host_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// noise returns n incompressible bytes, the same for the same seed.
func noise(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// storedZip is a valid backup with a data.db of n incompressible bytes.
func storedZip(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "data.db", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(noise(uint64(n), n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadTemps returns the plugin's upload spool files now present.
func uploadTemps(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, dir := range slices.Compact([]string{os.TempDir(), "/tmp"}) {
		found, err := filepath.Glob(filepath.Join(dir, "pocketbackup-upload-*"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, found...)
	}
	return out
}

// assertNoNewTemps fails when upload spool files appeared since before and
// stay (other packages' tests may have one open for a moment).
func assertNoNewTemps(t testing.TB, before []string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for _, f := range uploadTemps(t) {
			if !slices.Contains(before, f) {
				left = append(left, f)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload temp files left behind: %v", left)
		}
	}
}

// storeLeftovers returns what pb_data/backups holds besides keep.
func storeLeftovers(t testing.TB, dataDir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "backups"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sidecars := map[string]bool{}
	for _, e := range entries {
		sidecars[digestSidecar(e.Name())] = true
	}
	var extra []string
	for _, e := range entries {
		// A stored backup's digest sidecar belongs to it; one without its
		// backup is a leftover.
		if !slices.Contains(keep, e.Name()) && !sidecars[e.Name()] {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

// digestSidecar is the name of the local store's digest sidecar of key
// (see plugin/storage's local store).
func digestSidecar(key string) string {
	h := sha256.Sum256([]byte(key))
	return ".sha256-" + hex.EncodeToString(h[:])
}

// multipartParts builds a multipart body from raw parts (header lines and
// content), for bodies the standard writer would not produce.
func multipartParts(boundary string, parts ...[2]string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n%s\r\n\r\n%s\r\n", boundary, p[0], p[1])
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

const (
	bodyDefault400 = `{"status":400,"message":"Something went wrong while processing your request.","data":{}}`
	bodyMalformed  = `{"status":400,"message":"The multipart body is malformed.","data":{}}`
	bodyFileBlank  = `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"file":{"code":"validation_required","message":"Cannot be blank."}}}`
)

// TestHostileCreateBodies: malformed, mistyped and oversized create bodies
// are answered 400 in the contract's shape and start nothing.
func TestHostileCreateBodies(t *testing.T) {
	e := newEnv(t)
	big := `{"name":"` + strings.Repeat("a", 2<<20) + `.zip"}`
	row := func(name, ct, body string) scenario {
		return scenario{name: name, method: "POST", path: "/api/backups", token: "super", contentType: ct, body: jsonBody(body),
			wantStatus: 400, wantBody: bodyDefault400}
	}
	runScenarios(t, e, []scenario{
		row("malformed json", "application/json", `{"name":`),
		row("json garbage", "application/json", `}{`),
		row("name not a string", "application/json", `{"name":5}`),
		row("array", "application/json", `["a.zip"]`),
		row("string", "application/json", `"a.zip"`),
		row("invalid utf-8 escape", "application/json", `{"name":"\ud800`),
		row("body over 1 MiB", "application/json", big),
		row("text/plain", "text/plain", `name=plain.zip`),
		row("text/plain with json", "text/plain", `{"name":"plain.zip"}`),
		row("xml", "application/xml", `<name>x.zip</name>`),
		row("multipart without boundary", "multipart/form-data", "--x\r\n\r\n"),
		row("form over 1 MiB", "application/x-www-form-urlencoded", "name="+strings.Repeat("a", 2<<20)),
		row("bad content type", "a/b/c; ;", `{"name":"ct.zip"}`),
	})
	if h := e.health(); h["canBackup"] != true || h["lastOperation"] != nil {
		t.Fatalf("a refused body started an operation: %v", h)
	}
	if keys := e.keys(); len(keys) != 0 {
		t.Fatalf("backups after refused creates: %v", keys)
	}
}

// TestHostileUploadBodies: broken multipart bodies are answered 400 in the
// contract's shape; no upload spool file and nothing in the store is left.
func TestHostileUploadBodies(t *testing.T) {
	e := newEnv(t)
	before := uploadTemps(t)
	good := storedZip(t, 1<<20)
	const bd = "XbOuNdArY"
	ct := "multipart/form-data; boundary=" + bd
	filePart := func(name string, content []byte) [2]string {
		return [2]string{`Content-Disposition: form-data; name="file"; filename="` + name + `"` + "\r\nContent-Type: application/zip", string(content)}
	}
	whole := multipartParts(bd, filePart("cut.zip", good))
	zipEnd := bytes.Index(whole, good) + len(good)
	cut := func(n int) func(*testing.T) []byte { return func(*testing.T) []byte { return whole[:n] } }
	many := make([][2]string, 0, 18)
	for i := range 17 {
		many = append(many, [2]string{fmt.Sprintf(`Content-Disposition: form-data; name="f%d"`, i), "x"})
	}
	many = append(many, filePart("many.zip", good))
	var manyHeaders strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&manyHeaders, "X-H%d: v\r\n", i)
	}
	up := func(name string, body []byte, want int, wantBody string, contains ...string) scenario {
		return scenario{name: name, method: "POST", path: "/api/backups/upload", token: "super", contentType: ct,
			body: func(*testing.T) []byte { return body }, wantStatus: want, wantBody: wantBody, contains: contains}
	}
	rows := []scenario{
		{name: "text/plain", method: "POST", path: "/api/backups/upload", token: "super", contentType: "text/plain", body: jsonBody("PK\x03\x04"), wantStatus: 400, wantBody: bodyFileBlank},
		{name: "no boundary param", method: "POST", path: "/api/backups/upload", token: "super", contentType: "multipart/form-data", body: cut(len(whole)), wantStatus: 400, wantBody: bodyFileBlank},
		up("boundary never seen", []byte(strings.Repeat("garbage\r\n", 1000)), 400, bodyFileBlank),
		up("empty body", nil, 400, bodyFileBlank),
		up("only the closing boundary", []byte("--"+bd+"--\r\n"), 400, bodyFileBlank),
		up("cut in the part headers", whole[:len(bd)+20], 400, bodyMalformed),
		up("cut at 10%", whole[:len(whole)/10], 400, bodyMalformed),
		up("cut at 50%", whole[:len(whole)/2], 400, bodyMalformed),
		up("cut 1 byte before the zip's end", whole[:zipEnd-1], 400, bodyMalformed),
		up("cut right after the zip", whole[:zipEnd], 400, bodyMalformed),
		up("cut in the closing boundary", whole[:zipEnd+5], 400, bodyMalformed),
		up("17 parts before the file", multipartParts(bd, many...), 400, bodyMalformed),
		up("20000 part headers", multipartParts(bd, [2]string{`Content-Disposition: form-data; name="x"` + "\r\n" + strings.TrimSuffix(manyHeaders.String(), "\r\n"), "x"}, filePart("hdrs.zip", good)), 400, bodyMalformed),
		up("2 MiB file name", multipartParts(bd, filePart(strings.Repeat("n", 2<<20)+".zip", good)), 400, "", "validation_invalid_file_name"),
		up("file part without file name", multipartParts(bd, [2]string{`Content-Disposition: form-data; name="file"`, string(good)}), 400, bodyFileBlank),
		up("unparsable disposition", multipartParts(bd, [2]string{`Content-Disposition: form-data; name="file"; filename=`, string(good)}), 400, ""),
		up("empty file", multipartParts(bd, filePart("empty.zip", nil)), 400, "", "validation_invalid_mime_type"),
		up("zip magic then garbage", multipartParts(bd, filePart("garbage.zip", append([]byte("PK\x03\x04"), noise(1, 100000)...))), 400, "", "validation_invalid_archive"),
	}
	runScenarios(t, e, rows)
	// The same good file, whole, is accepted: the refusals were the bodies.
	runScenarios(t, e, []scenario{up("whole", whole, 204, "")})
	assertNoNewTemps(t, before)
	if left := storeLeftovers(t, e.dataDir, "cut.zip"); len(left) != 0 {
		t.Fatalf("store holds %v besides the accepted upload", left)
	}
	if keys := e.keys(); !slices.Equal(keys, []string{"cut.zip"}) {
		t.Fatalf("listed %v", keys)
	}
}

// TestHugeHeaders: a 2 MiB header line or URL is refused by Go's server
// itself (431), never a 500, and the server keeps serving.
func TestHugeHeaders(t *testing.T) {
	e := newEnv(t)
	huge := strings.Repeat("h", 2<<20)
	for _, c := range []struct {
		name string
		make func() *http.Request
	}{
		{"header line", func() *http.Request {
			req, _ := http.NewRequest("GET", e.server.URL+"/api/backups", nil)
			req.Header.Set("Authorization", e.superTok)
			req.Header.Set("X-Huge", huge)
			return req
		}},
		{"authorization", func() *http.Request {
			req, _ := http.NewRequest("GET", e.server.URL+"/api/backups", nil)
			req.Header.Set("Authorization", huge)
			return req
		}},
		{"url", func() *http.Request {
			req, _ := http.NewRequest("GET", e.server.URL+"/api/backups/"+huge+"?token="+e.superFile, nil)
			return req
		}},
		{"upload content type", func() *http.Request {
			req, _ := http.NewRequest("POST", e.server.URL+"/api/backups/upload", strings.NewReader("x"))
			req.Header.Set("Authorization", e.superTok)
			req.Header.Set("Content-Type", "multipart/form-data; boundary="+huge)
			return req
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(c.make())
			if err != nil {
				// The server may close before the client finished sending.
				t.Logf("transport error (the server cut the connection): %v", err)
			} else {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Fatalf("status %d, want 431; body %.200q", resp.StatusCode, body)
				}
			}
			if status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil); status != 200 {
				t.Fatalf("server after a huge header: %d %s", status, body)
			}
		})
	}
}
