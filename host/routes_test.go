package host_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/clientip"
)

const (
	bodyUnauthorized = `{"status":401,"message":"The request requires valid record authorization token.","data":{}}`
	bodyForbidden    = `{"status":403,"message":"The authorized record is not allowed to perform this action.","data":{}}`
	bodyFileForbid   = `{"status":403,"message":"Insufficient permissions to access the resource.","data":{}}`
	bodyNotFound     = `{"status":404,"message":"The requested resource wasn't found.","data":{}}`
	bodyBusy         = `{"status":400,"message":"Try again later - another backup/restore process has already been started.","data":{}}`
)

// scenario is one row of a route table.
type scenario struct {
	name        string
	method      string
	path        string // may contain {super}/{user}/{superFile}/{userFile}
	token       string // "super", "user", "garbage" or ""
	contentType string
	header      map[string]string // more request headers
	body        func(t *testing.T) []byte
	wantStatus  int
	wantBody    string   // exact JSON when set
	contains    []string // fragments when set
}

func (e *env) tokenFor(who string) string {
	switch who {
	case "super":
		return e.superTok
	case "user":
		return e.userTok
	case "garbage":
		return "not.a.token"
	case "superFileAsAuth":
		return e.superFile
	}
	return ""
}

func (e *env) expand(path string) string {
	return strings.NewReplacer("{super}", e.superTok, "{user}", e.userTok, "{superFile}", e.superFile, "{userFile}", e.userFile).Replace(path)
}

func runScenarios(t *testing.T, e *env, rows []scenario) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var body *bytes.Reader
			if row.body != nil {
				body = bytes.NewReader(row.body(t))
			} else {
				body = bytes.NewReader(nil)
			}
			status, got, _ := e.doWith(row.method, e.expand(row.path), e.tokenFor(row.token), row.contentType, row.header, body)
			if status != row.wantStatus {
				t.Fatalf("%s %s: status %d, want %d; body %s", row.method, row.path, status, row.wantStatus, got)
			}
			if row.wantBody != "" {
				assertJSONEqual(t, got, row.wantBody)
			}
			for _, frag := range row.contains {
				if !strings.Contains(got, frag) {
					t.Errorf("body %s lacks %q", got, frag)
				}
			}
		})
	}
}

func assertJSONEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body\n got %s\nwant %s", strings.TrimSpace(got), want)
	}
}

func jsonBody(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }

// multipartBody builds an upload body with one file part.
func multipartBody(field, filename string, content []byte) (func(*testing.T) []byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if filename == "" {
		_ = mw.WriteField("other", "x")
	} else {
		w, _ := mw.CreateFormFile(field, filename)
		_, _ = w.Write(content)
	}
	_ = mw.Close()
	data := buf.Bytes()
	return func(*testing.T) []byte { return data }, mw.FormDataContentType()
}

func TestHealthRoute(t *testing.T) {
	e := newEnv(t)
	public := `{"code":200,"message":"API is healthy.","data":{}}`
	super := func(realIP, proxyHeader string) string {
		return `{"code":200,"message":"API is healthy.","data":{"canBackup":true,"operation":null,"lastOperation":null,` +
			`"realIP":"` + realIP + `","possibleProxyHeader":"` + proxyHeader + `","requireS3":false,` +
			`"lastGoodBackup":"","stale":false}}`
	}
	xff := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "GET", path: "/api/health", wantStatus: 200, wantBody: public},
		{name: "no auth, proxy header", method: "GET", path: "/api/health", header: xff, wantStatus: 200, wantBody: public},
		{name: "garbage token", method: "GET", path: "/api/health", token: "garbage", wantStatus: 200, wantBody: public},
		{name: "non-superuser", method: "GET", path: "/api/health", token: "user", wantStatus: 200, wantBody: public},
		{name: "non-superuser, proxy header", method: "GET", path: "/api/health", token: "user", header: xff, wantStatus: 200, wantBody: public},
		{name: "superuser", method: "GET", path: "/api/health", token: "super", wantStatus: 200, wantBody: super("127.0.0.1", "")},
		{name: "superuser, X-Forwarded-For from an untrusted peer", method: "GET", path: "/api/health", token: "super",
			header: xff, wantStatus: 200, wantBody: super("127.0.0.1", "X-Forwarded-For")},
		{name: "superuser, X-Real-IP from an untrusted peer", method: "GET", path: "/api/health", token: "super",
			header: map[string]string{"X-Real-IP": "203.0.113.7"}, wantStatus: 200, wantBody: super("127.0.0.1", "X-Real-IP")},
	})
	trusting := newEnvWithAuth(t, nil, auth.WithTrustedProxies(clientip.New(netip.MustParsePrefix("127.0.0.1/32"))))
	runScenarios(t, trusting, []scenario{
		{name: "trusted proxy, no auth", method: "GET", path: "/api/health", header: xff, wantStatus: 200, wantBody: public},
		{name: "trusted proxy, superuser", method: "GET", path: "/api/health", token: "super",
			header: map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}, wantStatus: 200, wantBody: super("203.0.113.7", "")},
		{name: "trusted proxy, no header", method: "GET", path: "/api/health", token: "super", wantStatus: 200, wantBody: super("127.0.0.1", "")},
	})
}

func TestListRoute(t *testing.T) {
	e := newEnv(t)
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "GET", path: "/api/backups", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "garbage token", method: "GET", path: "/api/backups", token: "garbage", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "file token as auth", method: "GET", path: "/api/backups", token: "superFileAsAuth", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "GET", path: "/api/backups", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "superuser empty", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, wantBody: `[]`},
	})
}

func TestCreateRoute(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 147) + ".zip"
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "POST", path: "/api/backups", contentType: "application/json", body: jsonBody(`{"name":"a.zip"}`), wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "POST", path: "/api/backups", token: "user", contentType: "application/json", body: jsonBody(`{"name":"a.zip"}`), wantStatus: 403, wantBody: bodyForbidden},
		{name: "bad format", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"Bad Name.zip"}`), wantStatus: 400,
			wantBody: `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"name":{"code":"validation_match_invalid","message":"Must be in a valid format."}}}`},
		{name: "no zip suffix", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"backup"}`), wantStatus: 400, contains: []string{"validation_match_invalid"}},
		{name: "traversal", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"../x.zip"}`), wantStatus: 400, contains: []string{"validation_match_invalid"}},
		{name: "too long", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"` + long + `"}`), wantStatus: 400,
			wantBody: `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"name":{"code":"validation_length_out_of_range","message":"The length must be between 1 and 150."}}}`},
		{name: "malformed json", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":`), wantStatus: 400,
			wantBody: `{"status":400,"message":"Something went wrong while processing your request.","data":{}}`},
		{name: "superuser named", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"named_backup-1.zip"}`), wantStatus: 204},
	})
	if last := e.waitIdle(); last["ok"] != true || last["key"] != "named_backup-1.zip" {
		t.Fatalf("last operation = %v", last)
	}
	runScenarios(t, e, []scenario{
		{name: "taken name", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":"named_backup-1.zip"}`), wantStatus: 400,
			wantBody: `{"status":400,"message":"A backup with the name \"named_backup-1.zip\" already exists.","data":{"name":{"code":"validation_backup_name_exists","message":"The backup file name is invalid or already exists."}}}`},
		{name: "form body", method: "POST", path: "/api/backups", token: "super", contentType: "application/x-www-form-urlencoded", body: jsonBody(`name=form_backup.zip`), wantStatus: 204},
	})
	e.waitIdle()
	runScenarios(t, e, []scenario{
		{name: "auto name", method: "POST", path: "/api/backups", token: "super", contentType: "application/json", body: jsonBody(`{"name":""}`), wantStatus: 204},
	})
	last := e.waitIdle()
	if key, _ := last["key"].(string); !strings.HasPrefix(key, "pb_backup_") || len(key) != len("pb_backup_20060102150405.zip") {
		t.Fatalf("auto name = %q", key)
	}
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 {
		t.Fatal(status, body)
	}
	var list []struct {
		Key      string `json:"key"`
		Size     int64  `json:"size"`
		Modified string `json:"modified"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 3 {
		t.Fatalf("list = %s (%v)", body, err)
	}
	for _, b := range list {
		if b.Size <= 0 || len(b.Modified) != len("2006-01-02 15:04:05.000Z") || !strings.HasSuffix(b.Modified, "Z") {
			t.Errorf("listed %+v", b)
		}
	}
}

func TestUploadRoute(t *testing.T) {
	e := newEnv(t)
	good := zipOf(t, map[string]string{"data.db": "db"})
	okBody, okType := multipartBody("file", "uploaded.zip", good)
	notZip, notZipType := multipartBody("file", "fake.zip", []byte("plain text, not a zip"))
	noFile, noFileType := multipartBody("file", "", nil)
	slashName, slashType := multipartBody("file", "a/b.zip", good)
	dotdot, dotdotType := multipartBody("file", "..zip..", good)
	hostile, hostileType := multipartBody("file", "hostile.zip", zipOf(t, map[string]string{"../../etc/x": "x"}))
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "POST", path: "/api/backups/upload", contentType: okType, body: okBody, wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "POST", path: "/api/backups/upload", token: "user", contentType: okType, body: okBody, wantStatus: 403, wantBody: bodyForbidden},
		{name: "not multipart", method: "POST", path: "/api/backups/upload", token: "super", contentType: "application/json", body: jsonBody(`{}`), wantStatus: 400,
			wantBody: `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"file":{"code":"validation_required","message":"Cannot be blank."}}}`},
		{name: "no file part", method: "POST", path: "/api/backups/upload", token: "super", contentType: noFileType, body: noFile, wantStatus: 400, contains: []string{"validation_required"}},
		{name: "not a zip", method: "POST", path: "/api/backups/upload", token: "super", contentType: notZipType, body: notZip, wantStatus: 400, contains: []string{`"file"`, "validation_invalid_mime_type"}},
		{name: "path in name", method: "POST", path: "/api/backups/upload", token: "super", contentType: slashType, body: slashName, wantStatus: 400, contains: []string{`"file"`, "validation_invalid_file_name"}},
		{name: "dotdot in name", method: "POST", path: "/api/backups/upload", token: "super", contentType: dotdotType, body: dotdot, wantStatus: 400, contains: []string{`"file"`}},
		{name: "hostile archive", method: "POST", path: "/api/backups/upload", token: "super", contentType: hostileType, body: hostile, wantStatus: 400, contains: []string{`"file"`, "validation_invalid_archive"}},
		{name: "truncated multipart", method: "POST", path: "/api/backups/upload", token: "super", contentType: okType,
			body: func(t *testing.T) []byte { b := okBody(t); return b[:len(b)/2] }, wantStatus: 400},
		{name: "superuser", method: "POST", path: "/api/backups/upload", token: "super", contentType: okType, body: okBody, wantStatus: 204},
		{name: "taken", method: "POST", path: "/api/backups/upload", token: "super", contentType: okType, body: okBody, wantStatus: 400, contains: []string{"already exists", "validation_backup_name_exists"}},
		{name: "listed once", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, contains: []string{`"key":"uploaded.zip"`}},
	})
}

func TestDownloadRoute(t *testing.T) {
	e := newEnv(t)
	payload := zipOf(t, map[string]string{"data.db": strings.Repeat("d", 10000)})
	up, upType := multipartBody("file", "dl.zip", payload)
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatal(status, body)
	}
	runScenarios(t, e, []scenario{
		{name: "no token", method: "GET", path: "/api/backups/dl.zip", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "auth header only", method: "GET", path: "/api/backups/dl.zip", token: "super", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "auth token as file token", method: "GET", path: "/api/backups/dl.zip?token={super}", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "garbage token", method: "GET", path: "/api/backups/dl.zip?token=abc", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "non-superuser file token", method: "GET", path: "/api/backups/dl.zip?token={userFile}", wantStatus: 403, wantBody: bodyFileForbid},
		{name: "missing key", method: "GET", path: "/api/backups/nope.zip?token={superFile}", wantStatus: 404, wantBody: bodyNotFound},
		{name: "dotdot key", method: "GET", path: "/api/backups/..?token={superFile}", wantStatus: 404},
		{name: "encoded slash", method: "GET", path: "/api/backups/..%2Fdata.db?token={superFile}", wantStatus: 404},
		{name: "encoded dots", method: "GET", path: "/api/backups/%2e%2e?token={superFile}", wantStatus: 404},
		{name: "hidden key", method: "GET", path: "/api/backups/.tmp-x?token={superFile}", wantStatus: 404, wantBody: bodyNotFound},
	})
	req, _ := http.NewRequest("GET", e.server.URL+"/api/backups/dl.zip?token="+e.superFile, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, resp)
	if resp.StatusCode != 200 || !bytes.Equal(got, payload) {
		t.Fatalf("download status %d, %d bytes, want %d", resp.StatusCode, len(got), len(payload))
	}
	for header, want := range map[string]string{
		"Content-Type":        "application/zip",
		"Content-Disposition": `attachment; filename=dl.zip`,
		"Accept-Ranges":       "bytes",
	} {
		if resp.Header.Get(header) != want {
			t.Errorf("%s = %q, want %q", header, resp.Header.Get(header), want)
		}
	}
	if resp.Header.Get("Last-Modified") == "" || resp.ContentLength != int64(len(payload)) {
		t.Errorf("Last-Modified %q, Content-Length %d", resp.Header.Get("Last-Modified"), resp.ContentLength)
	}

	// Resumable: a range answers 206 with exactly those bytes.
	n := len(payload)
	for _, c := range []struct {
		header   string
		from, to int // inclusive
	}{{"bytes=0-99", 0, 99}, {"bytes=100-", 100, n - 1}, {"bytes=-50", n - 50, n - 1}, {"bytes=10-999999", 10, n - 1}} {
		req, _ := http.NewRequest("GET", e.server.URL+"/api/backups/dl.zip?token="+e.superFile, nil)
		req.Header.Set("Range", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, resp)
		if resp.StatusCode != 206 || !bytes.Equal(got, payload[c.from:c.to+1]) {
			t.Errorf("Range %s: status %d, %d bytes", c.header, resp.StatusCode, len(got))
		}
	}
	req, _ = http.NewRequest("GET", e.server.URL+"/api/backups/dl.zip?token="+e.superFile, nil)
	req.Header.Set("Range", "bytes=999999-")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: status %d", resp.StatusCode)
	}
}

func TestDeleteRoute(t *testing.T) {
	e := newEnv(t)
	up, upType := multipartBody("file", "del.zip", zipOf(t, map[string]string{"data.db": "x"}))
	if status, body, _ := e.do("POST", "/api/backups/upload", e.superTok, upType, bytes.NewReader(up(t))); status != 204 {
		t.Fatal(status, body)
	}
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "DELETE", path: "/api/backups/del.zip", wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "DELETE", path: "/api/backups/del.zip", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "missing", method: "DELETE", path: "/api/backups/nope.zip", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "dotdot", method: "DELETE", path: "/api/backups/..", token: "super", wantStatus: 404},
		{name: "encoded slash", method: "DELETE", path: "/api/backups/a%2Fb.zip", token: "super", wantStatus: 404},
		{name: "superuser", method: "DELETE", path: "/api/backups/del.zip", token: "super", wantStatus: 204},
		{name: "gone", method: "DELETE", path: "/api/backups/del.zip", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "list empty", method: "GET", path: "/api/backups", token: "super", wantStatus: 200, wantBody: `[]`},
	})
}

func TestUnknownBackupsPost(t *testing.T) {
	e := newEnv(t)
	runScenarios(t, e, []scenario{
		{name: "unknown action", method: "POST", path: "/api/backups/x.zip/explode", token: "super", wantStatus: 404, wantBody: bodyNotFound},
	})
}
