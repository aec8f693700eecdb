package host_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pocketbackup/pocketbackup/host"
)

// countedS3 is an S3-protocol server on loopback with the given buckets
// that records the path of every request it gets.
type countedS3 struct {
	URL   string
	mu    sync.Mutex
	paths []string
}

func newCountedS3(t *testing.T, buckets ...string) *countedS3 {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	c := &countedS3{}
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.paths = append(c.paths, r.URL.Path)
		c.mu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// requests returns the paths requested so far and forgets them.
func (c *countedS3) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.paths
	c.paths = nil
	return p
}

// s3FieldError returns data.backups.s3[field] of a validation error body.
func s3FieldError(t *testing.T, body, field string) (code, message string) {
	t.Helper()
	var e struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
		Data    struct {
			Backups struct {
				S3 map[string]struct{ Code, Message string } `json:"s3"`
			} `json:"backups"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != 400 || e.Message != "An error occurred while validating the submitted data." {
		t.Fatalf("not a validation error (%v): %s", err, body)
	}
	fe, ok := e.Data.Backups.S3[field]
	if !ok {
		t.Fatalf("no data.backups.s3.%s in %s", field, body)
	}
	return fe.Code, fe.Message
}

// TestS3SettingsValidatedWhenDisabled: a bad bucket name or endpoint is
// refused when saved with enabled false too, field by field in the
// contract's shape, and nothing is saved.
func TestS3SettingsValidatedWhenDisabled(t *testing.T) {
	store := &memSettings{}
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = store })
	save := func(s3 string) (int, string) {
		status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json",
			strings.NewReader(`{"backups":{"s3":`+s3+`}}`))
		return status, body
	}
	badBuckets := map[string]string{
		"ab":                    "validation_length_out_of_range",
		strings.Repeat("a", 64): "validation_length_out_of_range",
		"Upper-case":            "validation_match_invalid",
		"under_score":           "validation_match_invalid",
		"with space":            "validation_match_invalid",
		"slash/bucket":          "validation_match_invalid",
		"evil\u202ebucket":      "validation_match_invalid",
		"-starts-with-hyphen":   "validation_match_invalid",
		"ends-with-dot.":        "validation_match_invalid",
		"two..dots":             "validation_match_invalid",
		"192.168.5.4":           "validation_match_invalid",
		"xn--bucket":            "validation_match_invalid",
		"sthree-bucket":         "validation_match_invalid",
		"amzn-s3-demo-bucket":   "validation_match_invalid",
		"bucket-s3alias":        "validation_match_invalid",
		"bucket--ol-s3":         "validation_match_invalid",
		"bucket.mrap":           "validation_match_invalid",
		"bucket--x-s3":          "validation_match_invalid",
		"bucket--table-s3":      "validation_match_invalid",
	}
	for bucket, want := range badBuckets {
		b, _ := json.Marshal(bucket)
		status, body := save(`{"enabled":false,"bucket":` + string(b) + `,"endpoint":"https://s3.example.com"}`)
		if status != 400 {
			t.Fatalf("bucket %q saved: %d %s", bucket, status, body)
		}
		if code, msg := s3FieldError(t, body, "bucket"); code != want || !strings.HasSuffix(msg, ".") {
			t.Errorf("bucket %q: %s %q, want code %s", bucket, code, msg, want)
		}
	}
	badEndpoints := []string{"ftp://s3.example.com", "file:///etc/passwd", "unix:///run/s3.sock", "gopher://h",
		"https://user:SEKRITPW@s3.example.com", "http://AKID@s3.example.com", "https://", "http://:9000", "https:///bucket", "https://exa mple.com"}
	for _, ep := range badEndpoints {
		b, _ := json.Marshal(ep)
		status, body := save(`{"enabled":false,"bucket":"good-bucket","endpoint":` + string(b) + `}`)
		if status != 400 {
			t.Fatalf("endpoint %q saved: %d %s", ep, status, body)
		}
		if code, _ := s3FieldError(t, body, "endpoint"); code != "validation_is_url" {
			t.Errorf("endpoint %q: code %s", ep, code)
		}
		if strings.Contains(body, "SEKRITPW") {
			t.Errorf("endpoint %q: the answer repeats the credentials: %s", ep, body)
		}
	}
	if store.data != nil {
		t.Fatalf("refused settings were saved: %s", store.data)
	}
	// One exact answer, to pin the shape.
	status, body := save(`{"bucket":"ab","endpoint":"ftp://x"}`)
	assertJSONEqual(t, body, `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"backups":{"s3":{`+
		`"bucket":{"code":"validation_length_out_of_range","message":"The length must be between 3 and 63."},`+
		`"endpoint":{"code":"validation_is_url","message":"Must be an http or https URL."}}}}}`)
	if status != 400 {
		t.Fatal(status)
	}
	for _, ok := range []string{`{"bucket":"abc","endpoint":"s3.example.com"}`, `{"bucket":"my.bucket-1","endpoint":"http://127.0.0.1:9000/"}`,
		`{"bucket":"` + strings.Repeat("a", 63) + `","endpoint":"https://[::1]:9000"}`, `{"bucket":"1.2.3.4.5","endpoint":""}`, `{"bucket":"","endpoint":""}`} {
		if status, body := save(ok); status != 200 {
			t.Errorf("valid %s refused: %d %s", ok, status, body)
		}
	}
}

// TestS3TestUsesWhatWouldBeSaved: POST /api/settings/test/s3 checks the
// settings with PATCH's rules before any request leaves, tests a body's
// settings merged with the stored secret as PATCH would save them, and
// saves nothing.
func TestS3TestUsesWhatWouldBeSaved(t *testing.T) {
	s3 := newCountedS3(t, "saved-bucket", "other-bucket")
	store := &memSettings{}
	e := newEnvWith(t, func(cfg *host.Config) { cfg.Settings = store })
	test := func(body string) (int, string) {
		status, resp, _ := e.do("POST", "/api/settings/test/s3", e.superTok, "application/json", strings.NewReader(body))
		return status, resp
	}

	// Settings stored before the rule (or restored from an old backup):
	// the test refuses them as PATCH would, without a request to S3.
	store.data = []byte(`{"backups":{"cronMaxKeep":3,"s3":{"enabled":false,"bucket":"Old_Bucket","region":"us-east-1","endpoint":"` +
		s3.URL + `","accessKey":"AKIDEXAMPLE","secret":"SECRETEXAMPLE","forcePathStyle":true}}}`)
	e = newEnvWith(t, func(cfg *host.Config) { cfg.Settings = store })
	status, body := test(`{"filesystem":"backups"}`)
	if status != 400 {
		t.Fatalf("test of stored invalid settings: %d %s", status, body)
	}
	if code, _ := s3FieldError(t, body, "bucket"); code != "validation_match_invalid" {
		t.Fatalf("code %s", code)
	}
	if got := s3.requests(); len(got) != 0 {
		t.Fatalf("invalid settings reached S3: %v", got)
	}

	// Valid saved settings: the SDK's body tests them.
	patch := `{"backups":{"s3":{"enabled":true,"bucket":"saved-bucket","region":"us-east-1","endpoint":"` + s3.URL +
		`","accessKey":"AKIDEXAMPLE","secret":"SECRETEXAMPLE","forcePathStyle":true}}}`
	if status, body, _ := e.do("PATCH", "/api/settings", e.superTok, "application/json", strings.NewReader(patch)); status != 200 {
		t.Fatal(status, body)
	}
	s3.requests()
	if status, body := test(`{"filesystem":"backups"}`); status != 204 {
		t.Fatalf("test of saved settings: %d %s", status, body)
	}
	if !anyUnder(s3.requests(), "/saved-bucket/") {
		t.Fatal("the saved bucket was not probed")
	}

	// A body's settings: merged with the stored secret (enabled S3 needs
	// one, and none is sent), validated, probed, not saved.
	saved := string(store.data)
	if status, body := test(`{"filesystem":"backups","backups":{"s3":{"bucket":"other-bucket","secret":""}}}`); status != 204 {
		t.Fatalf("test of unsaved settings: %d %s", status, body)
	}
	if got := s3.requests(); !anyUnder(got, "/other-bucket/") || anyUnder(got, "/saved-bucket/") {
		t.Fatalf("probed %v, want other-bucket only", got)
	}
	status, body = test(`{"filesystem":"backups","backups":{"s3":{"bucket":"a..b","endpoint":"https://u:p@h"}}}`)
	if status != 400 {
		t.Fatalf("test of invalid unsaved settings: %d %s", status, body)
	}
	s3FieldError(t, body, "bucket")
	s3FieldError(t, body, "endpoint")
	if got := s3.requests(); len(got) != 0 {
		t.Fatalf("invalid settings reached S3: %v", got)
	}
	if string(store.data) != saved {
		t.Fatalf("test/s3 saved settings: %s", store.data)
	}
	if status, body, _ := e.do("GET", "/api/settings", e.superTok, "", nil); status != 200 || !strings.Contains(body, `"bucket":"saved-bucket"`) {
		t.Fatalf("settings after tests: %d %s", status, body)
	}
}

func anyUnder(paths []string, prefix string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
