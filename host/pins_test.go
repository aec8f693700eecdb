package host_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// pins returns GET /api/backups as key → pinned.
func (e *env) pins() map[string]bool {
	e.t.Helper()
	status, body, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	if status != 200 {
		e.t.Fatal(status, body)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, b := range list {
		pinned, has := b["pinned"]
		if has && pinned != true {
			e.t.Fatalf("pinned is sent only when true: %s", body)
		}
		out[b["key"].(string)] = has
	}
	return out
}

func TestPinRoute(t *testing.T) {
	e := newEnv(t)
	e.createAndWait("a.zip")
	pin := jsonBody(`{"pinned":true}`)
	const ct = "application/json"
	runScenarios(t, e, []scenario{
		{name: "no auth", method: "PATCH", path: "/api/backups/a.zip", contentType: ct, body: pin, wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "wrong auth", method: "PATCH", path: "/api/backups/a.zip", token: "garbage", contentType: ct, body: pin, wantStatus: 401, wantBody: bodyUnauthorized},
		{name: "non-superuser", method: "PATCH", path: "/api/backups/a.zip", token: "user", contentType: ct, body: pin, wantStatus: 403, wantBody: bodyForbidden},
		{name: "unknown key", method: "PATCH", path: "/api/backups/nope.zip", token: "super", contentType: ct, body: pin, wantStatus: 404, wantBody: bodyNotFound},
		{name: "key leaving the store", method: "PATCH", path: "/api/backups/..%2Fa.zip", token: "super", contentType: ct, body: pin, wantStatus: 404, wantBody: bodyNotFound},
		{name: "no pinned field", method: "PATCH", path: "/api/backups/a.zip", token: "super", contentType: ct, body: jsonBody(`{}`), wantStatus: 400,
			wantBody: `{"status":400,"message":"An error occurred while validating the submitted data.","data":{"pinned":{"code":"validation_required","message":"Must be true or false."}}}`},
		{name: "pinned not a bool", method: "PATCH", path: "/api/backups/a.zip", token: "super", contentType: ct, body: jsonBody(`{"pinned":"yes"}`), wantStatus: 400,
			contains: []string{`"status":400`}},
		{name: "malformed JSON", method: "PATCH", path: "/api/backups/a.zip", token: "super", contentType: ct, body: jsonBody(`{"pinned":`), wantStatus: 400,
			contains: []string{`"status":400`}},
		{name: "superuser", method: "PATCH", path: "/api/backups/a.zip", token: "super", contentType: ct, body: pin, wantStatus: 200,
			contains: []string{`"key":"a.zip"`, `"pinned":true`}},
	})
	if got := e.pins(); !got["a.zip"] {
		t.Fatalf("list after pin: %v", got)
	}
	// A pinned backup is refused deletion, and stays.
	status, body, _ := e.do("DELETE", "/api/backups/a.zip", e.superTok, "", nil)
	if status != 400 {
		t.Fatalf("delete of a pinned backup: %d %s", status, body)
	}
	assertJSONEqual(t, body, `{"status":400,"message":"The backup is pinned and cannot be deleted; unpin it first.","data":{}}`)
	if got := e.pins(); !got["a.zip"] {
		t.Fatalf("pinned backup gone: %v", got)
	}
	// Unpinned, it deletes.
	status, body, _ = e.do("PATCH", "/api/backups/a.zip", e.superTok, ct, strings.NewReader(`{"pinned":false}`))
	if status != 200 || strings.Contains(body, `"pinned"`) {
		t.Fatalf("unpin: %d %s", status, body)
	}
	if status, body, _ := e.do("DELETE", "/api/backups/a.zip", e.superTok, "", nil); status != 204 {
		t.Fatalf("delete after unpin: %d %s", status, body)
	}
	if got := e.pins(); len(got) != 0 {
		t.Fatalf("list after delete: %v", got)
	}
}
