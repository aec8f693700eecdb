package webui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/webui"
)

func TestHandlerServesFilesWithStrictHeaders(t *testing.T) {
	h, err := webui.Handler("/_/")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		ctype, body  string
	}{
		{"GET", "/_/", 200, "text/html", `<script type="module" src="app.js">`},
		{"GET", "/_/index.html", 200, "text/html", "<main"},
		{"GET", "/_/app.js", 200, "javascript", "import"},
		{"GET", "/_/api.js", 200, "javascript", "export async function api("},
		{"GET", "/_/app.css", 200, "text/css", ":root"},
		{"HEAD", "/_/app.js", 200, "javascript", ""},
		{"GET", "/_/missing.js", 404, "application/json", `"status":404`},
		{"GET", "/_/static/app.js", 404, "application/json", `"status":404`},
		{"GET", "/_/../go.mod", 404, "application/json", `"status":404`},
		{"GET", "/other/app.js", 404, "application/json", `"status":404`},
		{"POST", "/_/", 404, "application/json", `"status":404`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want it to contain %q", ct, tt.ctype)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": webui.CSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestCSPForbidsInlineCodeAndFraming(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(webui.CSP, want) {
			t.Errorf("CSP lacks %q: %s", want, webui.CSP)
		}
	}
	if strings.Contains(webui.CSP, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", webui.CSP)
	}
}

func TestHandlerRevalidatesWithETag(t *testing.T) {
	h, err := webui.Handler("/admin/")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/app.js", nil))
	etag := rec.Header().Get("ETag")
	if rec.Code != 200 || len(etag) < 10 || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d, ETag %q, Cache-Control %q", rec.Code, etag, rec.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/admin/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("revalidation: status %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/app.css", nil))
	if rec.Header().Get("ETag") == etag {
		t.Fatal("two files share an ETag")
	}
}

func TestHandlerRefusesBadPrefix(t *testing.T) {
	for _, p := range []string{"", "_/", "/_", "admin"} {
		if _, err := webui.Handler(p); err == nil {
			t.Errorf("Handler(%q) accepted", p)
		}
	}
}

// Every module the page loads is a file the handler serves, and no file
// builds HTML from strings.
func TestPageSourcesAvoidHTMLStrings(t *testing.T) {
	h, err := webui.Handler("/_/")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.js", "api.js", "dom.js", "status.js", "login.js", "backups.js", "settings.js", "dialogs.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/_/"+name, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", name, rec.Code)
		}
		src := rec.Body.String()
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", ".style."} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
