package host_test

import (
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/host"
)

// TestWebUIRoute: the page's files are public (they hold no secrets, and
// every API call the page makes carries the token), so every caller gets
// the same answer, with the page's strict headers; the API beside it is
// guarded as before.
func TestWebUIRoute(t *testing.T) {
	e := newEnvWith(t, func(cfg *host.Config) { cfg.WebUIPath = "/_/" })
	var page string
	for _, who := range []string{"", "garbage", "user", "super"} {
		status, body, hdr := e.do("GET", "/_/", e.tokenFor(who), "", nil)
		if status != 200 || !strings.Contains(body, `<script type="module" src="app.js">`) {
			t.Fatalf("%q: GET /_/ = %d %.80s", who, status, body)
		}
		if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%q: CSP %q", who, csp)
		}
		if page != "" && body != page {
			t.Errorf("%q: the page differs by caller", who)
		}
		page = body
	}
	runScenarios(t, e, []scenario{
		{name: "module no auth", method: "GET", path: "/_/api.js", wantStatus: 200, contains: []string{"export async function api("}},
		{name: "module bad token", method: "GET", path: "/_/api.js", token: "garbage", wantStatus: 200, contains: []string{"export async function api("}},
		{name: "module non-superuser", method: "GET", path: "/_/api.js", token: "user", wantStatus: 200, contains: []string{"export async function api("}},
		{name: "module superuser", method: "GET", path: "/_/api.js", token: "super", wantStatus: 200, contains: []string{"export async function api("}},
		{name: "unknown file", method: "GET", path: "/_/nope.js", token: "super", wantStatus: 404, wantBody: bodyNotFound},
		{name: "API still guarded", method: "GET", path: "/api/backups", token: "user", wantStatus: 403, wantBody: bodyForbidden},
		{name: "crons still guarded", method: "GET", path: "/api/crons", wantStatus: 401, wantBody: bodyUnauthorized},
	})
}

// TestWebUIOff: without WebUIPath no page is served.
func TestWebUIOff(t *testing.T) {
	e := newEnv(t)
	if status, _, _ := e.do("GET", "/_/", "", "", nil); status != 404 {
		t.Fatalf("GET /_/ without WebUIPath = %d", status)
	}
}
