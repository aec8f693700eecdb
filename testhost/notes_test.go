package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// testServer is the app's handler (auth + notes, no host) over a real
// data directory.
type testServer struct {
	t   *testing.T
	app *app
	url string
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerFor(t, newTestApp(t))
}

func newTestServerFor(t *testing.T, a *app) *testServer {
	t.Helper()
	secret, err := a.tokenSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(&authStore{db: a.db}, secret, authCollections,
		auth.WithBcryptCost(bcrypt.MinCost), auth.WithLogger(slog.New(slog.DiscardHandler)))
	logger := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(appHandler(appRouter(a, svc, logger), newRequestLogger(a.auxDB, svc, defaultLogsDays, logger)))
	t.Cleanup(srv.Close)
	return &testServer{t: t, app: a, url: srv.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; body may be nil, a string (sent as JSON) or a
// ready request body with contentType.
func (s *testServer) do(method, path, token string, body io.Reader, contentType string) response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *testServer) doJSON(method, path, token, body string) response {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return s.do(method, path, token, r, "application/json")
}

// login upserts a record in collectionID and returns its auth token.
func (s *testServer) login(collectionID, collectionName, email, password string) string {
	s.t.Helper()
	if _, err := upsertAuthRecord(s.t.Context(), s.app.db, collectionID, email, password); err != nil {
		s.t.Fatal(err)
	}
	return s.loginOnly(collectionName, email, password)
}

func (s *testServer) loginOnly(collectionName, email, password string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"identity": email, "password": password})
	resp := s.doJSON("POST", "/api/collections/"+collectionName+"/auth-with-password", "", string(body))
	if resp.status != http.StatusOK {
		s.t.Fatalf("login %s: %d %s", email, resp.status, resp.body)
	}
	var out struct{ Token string }
	resp.json(s.t, &out)
	return out.Token
}

func (s *testServer) superuserToken() string {
	return s.login(auth.SuperusersID, auth.SuperusersName, "root@example.com", "root-password")
}

func (s *testServer) userToken() string {
	return s.login(usersCollectionID, usersCollectionName, "user@example.com", "user-password")
}

// insertNotes stores n notes directly, one second apart (oldest first),
// and returns their ids oldest first.
func insertNotes(t *testing.T, a *app, n int) []string {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	for i := range n {
		ids[i] = newID()
		ts := formatDate(base.Add(time.Duration(i) * time.Second))
		if _, err := a.db.ExecContext(t.Context(), `INSERT INTO notes (id, title, body, created, updated) VALUES (?, ?, 'b', ?, ?)`,
			ids[i], fmt.Sprintf("note %d", i), ts, ts); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

const notFoundBody = `{"status":404,"message":"The requested resource wasn't found.","data":{}}`

func TestNotesRoutesAuth(t *testing.T) {
	s := newTestServer(t)
	su, user := s.superuserToken(), s.userToken()
	id := insertNotes(t, s.app, 1)[0]

	routes := []struct {
		method, path, body string
		okStatus           int
		okFragment         string
	}{
		{"GET", notesPath, "", 200, `"totalItems":1`},
		{"POST", notesPath, `{"title":"t"}`, 200, `"title":"t"`},
		{"GET", notesPath + "/" + id, "", 200, `"id":"` + id + `"`},
		{"PATCH", notesPath + "/" + id, `{"body":"new"}`, 200, `"body":"new"`},
		{"DELETE", notesPath + "/" + id, "", 204, ""},
	}
	for _, rt := range routes {
		for _, row := range []struct {
			who, token string
			status     int
			fragment   string
		}{
			{"no auth", "", 401, `{"status":401,"message":"The request requires valid record authorization token.","data":{}}`},
			{"bad token", "not-a-token", 401, `"status":401`},
			{"user", user, 403, `{"status":403,"message":"The authorized record is not allowed to perform this action.","data":{}}`},
			{"superuser", su, rt.okStatus, rt.okFragment},
			{"superuser as Bearer", "Bearer " + su, rt.okStatus, rt.okFragment},
		} {
			if rt.method == "DELETE" && row.who == "superuser as Bearer" {
				continue // deleted already
			}
			t.Run(rt.method+" "+rt.path+" "+row.who, func(t *testing.T) {
				resp := s.doJSON(rt.method, rt.path, row.token, rt.body)
				if resp.status != row.status || !bytes.Contains(resp.body, []byte(row.fragment)) {
					t.Errorf("got %d %s, want %d with %s", resp.status, resp.body, row.status, row.fragment)
				}
				if resp.status != 204 && resp.header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", resp.header.Get("Content-Type"))
				}
			})
		}
	}
}

func TestNotesCRUD(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()

	before := time.Now().UTC().Truncate(time.Millisecond)
	resp := s.doJSON("POST", notesPath, su, `{"title":"Hello","body":"World","ignored":1}`)
	if resp.status != 200 {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	var created map[string]any
	resp.json(t, &created)
	id, _ := created["id"].(string)
	if !recordIDPattern.MatchString(id) {
		t.Errorf("id %q", id)
	}
	want := map[string]any{"id": id, "collectionId": notesCollectionID, "collectionName": "notes",
		"title": "Hello", "body": "World", "created": created["created"], "updated": created["created"]}
	if fmt.Sprint(created) != fmt.Sprint(want) {
		t.Errorf("created %v\nwant    %v", created, want)
	}
	if len(notesCollectionID) != 15 {
		t.Errorf("collection id %q is not 15 characters", notesCollectionID)
	}
	ts, err := time.Parse(dateLayout, created["created"].(string))
	if err != nil || ts.Before(before) || ts.After(time.Now()) {
		t.Errorf("created %v (%v), want a date in %s after %v", created["created"], err, dateLayout, before)
	}

	resp = s.doJSON("GET", notesPath+"/"+id, su, "")
	var viewed map[string]any
	resp.json(t, &viewed)
	if resp.status != 200 || fmt.Sprint(viewed) != fmt.Sprint(created) {
		t.Errorf("view: %d %v, want %v", resp.status, viewed, created)
	}

	resp = s.doJSON("PATCH", notesPath+"/"+id, su, `{"title":"Changed"}`)
	var updated note
	resp.json(t, &updated)
	if resp.status != 200 || updated.Title != "Changed" || updated.Body != "World" || updated.Created != created["created"] {
		t.Errorf("update: %d %+v", resp.status, updated)
	}

	resp = s.doJSON("DELETE", notesPath+"/"+id, su, "")
	if resp.status != 204 || len(resp.body) != 0 {
		t.Errorf("delete: %d %q", resp.status, resp.body)
	}
	for _, method := range []string{"GET", "DELETE", "PATCH"} {
		resp = s.doJSON(method, notesPath+"/"+id, su, "")
		if resp.status != 404 || strings.TrimSpace(string(resp.body)) != notFoundBody {
			t.Errorf("%s after delete: %d %s", method, resp.status, resp.body)
		}
	}
	if n := countRows(t, s.app, "notes"); n != 0 {
		t.Errorf("%d notes left", n)
	}
}

func countRows(t *testing.T, a *app, table string) int {
	t.Helper()
	var n int
	if err := a.db.QueryRowContext(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNotesCreateFromForms(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()

	form := url.Values{"title": {"from form"}, "body": {"urlencoded"}}
	resp := s.do("POST", notesPath, su, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	var n note
	resp.json(t, &n)
	if resp.status != 200 || n.Title != "from form" || n.Body != "urlencoded" {
		t.Errorf("urlencoded: %d %s", resp.status, resp.body)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", "from multipart")
	_ = mw.WriteField("body", "FormData")
	_ = mw.Close()
	resp = s.do("POST", notesPath, su, &buf, mw.FormDataContentType())
	resp.json(t, &n)
	if resp.status != 200 || n.Title != "from multipart" || n.Body != "FormData" {
		t.Errorf("multipart: %d %s", resp.status, resp.body)
	}
}

func TestNotesCreateValidation(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()
	tests := []struct {
		name, body string
		fragment   string
	}{
		{"malformed JSON", `{"title":`, `"message":"Something went wrong while processing your request."`},
		{"title not a string", `{"title":3}`, `"status":400`},
		{"title too long", `{"title":"` + strings.Repeat("x", maxTitleLen+1) + `"}`, `"title":{"code":"validation_max_text_constraint"`},
		{"bad id", `{"id":"UPPER_case_id!!"}`, `"id":{"code":"validation_invalid_format"`},
		{"short id", `{"id":"abc"}`, `"id":{"code":"validation_invalid_format"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.doJSON("POST", notesPath, su, tc.body)
			if resp.status != 400 || !strings.Contains(string(resp.body), tc.fragment) {
				t.Errorf("got %d %s, want 400 with %s", resp.status, resp.body, tc.fragment)
			}
		})
	}
	if n := countRows(t, s.app, "notes"); n != 0 {
		t.Errorf("%d notes stored by rejected requests", n)
	}

	// A client-chosen id is kept, and can be used only once.
	resp := s.doJSON("POST", notesPath, su, `{"id":"abcdefghij12345","title":"mine"}`)
	if resp.status != 200 || !strings.Contains(string(resp.body), `"id":"abcdefghij12345"`) {
		t.Fatalf("create with id: %d %s", resp.status, resp.body)
	}
	resp = s.doJSON("POST", notesPath, su, `{"id":"abcdefghij12345","title":"again"}`)
	if resp.status != 400 || !strings.Contains(string(resp.body), `"id":{"code":"validation_invalid_id"`) {
		t.Errorf("duplicate id: %d %s", resp.status, resp.body)
	}
	resp = s.doJSON("PATCH", notesPath+"/abcdefghij12345", su, `{"title":"`+strings.Repeat("y", maxTitleLen+1)+`"}`)
	if resp.status != 400 {
		t.Errorf("update with a long title: %d %s", resp.status, resp.body)
	}
}

func listNotes(t *testing.T, s *testServer, token, query string) (noteList, response) {
	t.Helper()
	resp := s.doJSON("GET", notesPath+"?"+query, token, "")
	var l noteList
	if resp.status == 200 {
		resp.json(t, &l)
	}
	return l, resp
}

func ids(items []note) []string {
	out := make([]string, len(items))
	for i, n := range items {
		out[i] = n.ID
	}
	return out
}

func TestNotesList(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()

	empty, resp := listNotes(t, s, su, "")
	if resp.status != 200 || !strings.Contains(string(resp.body), `"items":[]`) ||
		empty.Page != 1 || empty.PerPage != 30 || empty.TotalItems != 0 || empty.TotalPages != 0 {
		t.Errorf("empty list: %d %s", resp.status, resp.body)
	}

	all := insertNotes(t, s.app, 7) // oldest first
	newest := make([]string, len(all))
	for i, id := range all {
		newest[len(all)-1-i] = id
	}

	tests := []struct {
		query                       string
		page, perPage, total, pages int
		want                        []string
	}{
		{"page=1&perPage=3", 1, 3, 7, 3, newest[0:3]},
		{"page=2&perPage=3", 2, 3, 7, 3, newest[3:6]},
		{"page=3&perPage=3", 3, 3, 7, 3, newest[6:]},
		{"page=4&perPage=3", 4, 3, 7, 3, nil},
		{"", 1, 30, 7, 1, newest},
		{"page=0&perPage=-5", 1, 30, 7, 1, newest},
		{"page=x&perPage=y", 1, 30, 7, 1, newest},
		{"perPage=5000", 1, 1000, 7, 1, newest},
		{"page=1&perPage=2&skipTotal=1", 1, 2, -1, -1, newest[:2]},
		{"page=1&perPage=2&skipTotal=true", 1, 2, -1, -1, newest[:2]},
		{"sort=created", 1, 30, 7, 1, all},
		{"sort=%2Bcreated", 1, 30, 7, 1, all},
		{"sort=-created", 1, 30, 7, 1, newest},
		{"sort=-title,id", 1, 30, 7, 1, newest},
		{"fields=id,title&expand=x", 1, 30, 7, 1, newest},
		{"page=99999999999999999&perPage=1000", int(maxPage), 1000, 7, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			l, resp := listNotes(t, s, su, tc.query)
			if resp.status != 200 {
				t.Fatalf("%d %s", resp.status, resp.body)
			}
			if l.Page != tc.page || l.PerPage != tc.perPage || l.TotalItems != tc.total || l.TotalPages != tc.pages {
				t.Errorf("page %d perPage %d totalItems %d totalPages %d, want %d %d %d %d",
					l.Page, l.PerPage, l.TotalItems, l.TotalPages, tc.page, tc.perPage, tc.total, tc.pages)
			}
			if fmt.Sprint(ids(l.Items)) != fmt.Sprint(tc.want) || l.Items == nil {
				t.Errorf("items %v, want %v", ids(l.Items), tc.want)
			}
			for _, n := range l.Items {
				if n.CollectionID != notesCollectionID || n.CollectionName != "notes" || n.Created == "" {
					t.Errorf("item %+v", n)
				}
			}
		})
	}

	for _, q := range []string{"sort=password", "sort=-created%3BDROP", "filter=title%3D%22x%22"} {
		if _, resp := listNotes(t, s, su, q); resp.status != 400 || !strings.Contains(string(resp.body), `"status":400`) {
			t.Errorf("%s: %d %s, want 400", q, resp.status, resp.body)
		}
	}
}

func TestNotesListTiesNewestFirst(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()
	var created []string
	for i := range 5 { // likely several in one millisecond
		resp := s.doJSON("POST", notesPath, su, fmt.Sprintf(`{"title":"n%d"}`, i))
		var n note
		resp.json(t, &n)
		created = append(created, n.ID)
	}
	l, _ := listNotes(t, s, su, "")
	for i, n := range l.Items {
		if n.ID != created[len(created)-1-i] {
			t.Fatalf("order %v, want newest first of %v", ids(l.Items), created)
		}
	}
}

// TestNotesGetFullList follows the JS SDK's getFullList: getList(page,
// batch, {skipTotal: 1}) from page 1 on while a page comes back full.
func TestNotesGetFullList(t *testing.T) {
	s := newTestServer(t)
	su := s.superuserToken()
	all := insertNotes(t, s.app, 6)

	for _, batch := range []int{1, 2, 4, 500, 1000, 5000} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			var got []string
			requests := 0
			for page := 1; ; page++ {
				requests++
				if requests > 20 {
					t.Fatal("getFullList does not end")
				}
				l, resp := listNotes(t, s, su, fmt.Sprintf("page=%d&perPage=%d&skipTotal=1", page, batch))
				if resp.status != 200 {
					t.Fatalf("%d %s", resp.status, resp.body)
				}
				got = append(got, ids(l.Items)...)
				if len(l.Items) != l.PerPage {
					break
				}
			}
			if len(got) != len(all) {
				t.Fatalf("got %d notes, want %d: %v", len(got), len(all), got)
			}
			seen := map[string]bool{}
			for _, id := range got {
				seen[id] = true
			}
			for _, id := range all {
				if !seen[id] {
					t.Errorf("missing %s", id)
				}
			}
		})
	}
}

func TestTokensDieWhenPasswordChanges(t *testing.T) {
	s := newTestServer(t)
	old := s.superuserToken()
	if resp := s.doJSON("GET", notesPath, old, ""); resp.status != 200 {
		t.Fatalf("fresh token: %d %s", resp.status, resp.body)
	}
	if _, err := upsertAuthRecord(t.Context(), s.app.db, auth.SuperusersID, "root@example.com", "new-password"); err != nil {
		t.Fatal(err)
	}
	if resp := s.doJSON("GET", notesPath, old, ""); resp.status != 401 {
		t.Errorf("old token after upsert: %d %s, want 401", resp.status, resp.body)
	}
	fresh := s.loginOnly(auth.SuperusersName, "root@example.com", "new-password")
	if resp := s.doJSON("GET", notesPath, fresh, ""); resp.status != 200 {
		t.Errorf("new token: %d %s", resp.status, resp.body)
	}
}

func TestPocketBaseSuperuserLogsIn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pb_data")
	writePocketBaseDataDir(t, dir, "owner@example.com", "pocketbase-password")
	a, err := openApp(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s := newTestServerFor(t, a)

	body := `{"identity":"OWNER@example.com","password":"pocketbase-password"}`
	resp := s.doJSON("POST", "/api/collections/_superusers/auth-with-password", "", body)
	if resp.status != 200 {
		t.Fatalf("login: %d %s", resp.status, resp.body)
	}
	var out struct {
		Token  string
		Record map[string]any
	}
	resp.json(t, &out)
	if out.Record["id"] != "pbsuperuser0001" || out.Record["created"] != "2025-03-04 05:06:07.890Z" ||
		strings.Contains(string(resp.body), "password") || strings.Contains(string(resp.body), "tokenKey") {
		t.Errorf("login body %s", resp.body)
	}
	if resp := s.doJSON("GET", notesPath, out.Token, ""); resp.status != 200 {
		t.Errorf("notes with the PocketBase superuser's token: %d %s", resp.status, resp.body)
	}
	if resp := s.doJSON("POST", "/api/collections/_superusers/auth-with-password", "",
		`{"identity":"owner@example.com","password":"wrong-password"}`); resp.status != 400 {
		t.Errorf("wrong password: %d", resp.status)
	}
}
