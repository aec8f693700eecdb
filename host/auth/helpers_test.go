package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

const (
	usersID   = "_pb_users_auth_"
	usersName = "users"

	superPassword = "1234567890-super"
	userPassword  = "1234567890-user"
)

// Exact bodies of the contract.
const (
	bodyUnauthorized = `{"status":401,"message":"The request requires valid record authorization token.","data":{}}`
	bodyForbidden    = `{"status":403,"message":"The authorized record is not allowed to perform this action.","data":{}}`
	bodyFailedAuth   = `{"status":400,"message":"Failed to authenticate.","data":{}}`
	bodyInternal     = `{"status":500,"message":"Something went wrong while processing your request.","data":{}}`
	bodyBadRequest   = `{"status":400,"message":"Something went wrong while processing your request.","data":{}}`
)

// created is the creation time of fixture records, outside UTC on purpose.
var created = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.FixedZone("CET", 3600))

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a service over a memStore with one superuser and one user,
// served by an httptest server whose router also has two test routes:
// GET /api/backups (RequireSuperuser) and GET /api/backups/:key, which
// checks a file token in ?token= like the download route.
type fixture struct {
	store   *memStore
	secret  []byte
	svc     *auth.Service
	handler http.Handler // what srv serves, for requests from chosen addresses
	srv     *httptest.Server
	logs    *syncBuffer
	super   auth.Record
	user    auth.Record
}

func newFixture(t *testing.T, opts ...auth.Option) *fixture {
	t.Helper()
	f := &fixture{
		store:  newMemStore(),
		secret: []byte(auth.NewTokenKey()),
		logs:   &syncBuffer{},
	}
	opts = append([]auth.Option{
		auth.WithBcryptCost(bcrypt.MinCost),
		auth.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil))),
	}, opts...)
	f.svc = auth.New(f.store, f.secret, []auth.Collection{
		auth.Superusers(),
		{ID: usersID, Name: usersName}, // default TTL: 7 days
	}, opts...)
	f.super = f.addRecord(t, auth.SuperusersID, "su1", "admin@example.com", superPassword)
	f.user = f.addRecord(t, usersID, "user1", "user@example.com", userPassword)

	r := httprouter.New()
	f.svc.Register(r)
	r.GET("/api/backups", f.svc.RequireSuperuser(func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		rec, ok := auth.RecordFromContext(r.Context())
		jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"guarded": ok, "id": rec.ID})
	}))
	r.GET("/api/backups/:key", func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		rec, err := f.svc.VerifyFileToken(r.Context(), r.URL.Query().Get("token"))
		switch {
		case err != nil:
			jsonapi.Write(w, jsonapi.Unauthorized())
		case !rec.IsSuperuser():
			jsonapi.Write(w, jsonapi.Forbidden(""))
		default:
			jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"key": ps.ByName("key"), "id": rec.ID})
		}
	})
	f.handler = r
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

// addRecord stores a record with a real bcrypt hash of password.
func (f *fixture) addRecord(t *testing.T, collectionID, id, email, password string) auth.Record {
	t.Helper()
	hash, err := auth.HashPasswordCost(password, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	name := usersName
	if collectionID == auth.SuperusersID {
		name = auth.SuperusersName
	}
	rec := auth.Record{
		ID: id, CollectionID: collectionID, CollectionName: name, Email: email,
		PasswordHash: hash, TokenKey: auth.NewTokenKey(),
		Created: created, Updated: created.Add(time.Hour),
	}
	f.store.put(rec)
	return rec
}

// changePassword gives rec a new password and, with it, a new token key.
func (f *fixture) changePassword(t *testing.T, rec auth.Record, password string) auth.Record {
	t.Helper()
	hash, err := auth.HashPasswordCost(password, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	rec.PasswordHash, rec.TokenKey = hash, auth.NewTokenKey()
	f.store.put(rec)
	return rec
}

func (f *fixture) authToken(t *testing.T, rec auth.Record) string {
	t.Helper()
	tok, err := f.svc.NewAuthToken(rec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) fileToken(t *testing.T, rec auth.Record) string {
	t.Helper()
	tok, err := f.svc.NewFileToken(rec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// key is the signing key the service must use for rec.
func (f *fixture) key(rec auth.Record) []byte { return append([]byte(rec.TokenKey), f.secret...) }

// claimsFor returns well-formed claims of type typ for rec, expiring in ttl.
func claimsFor(rec auth.Record, typ string, ttl time.Duration) jwt.MapClaims {
	c := jwt.MapClaims{"id": rec.ID, "collectionId": rec.CollectionID, "type": typ, "exp": time.Now().Add(ttl).Unix()}
	if typ == "auth" {
		c["refreshable"] = true
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tamperSignature changes one character in the middle of tok's signature.
func tamperSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// replacePayload swaps tok's payload for c, keeping header and signature.
func replacePayload(t *testing.T, tok string, c jwt.MapClaims) string {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// decodeSegment decodes one part of a JWT into a map.
func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// scenario is one row of a route table.
type scenario struct {
	name        string
	method, url string
	headers     map[string]string
	body        string
	status      int
	exact       string   // exact JSON body, when set
	contains    []string // fragments the body must contain
	excludes    []string // fragments it must not contain
	check       func(t *testing.T, body []byte)
}

func (f *fixture) do(t *testing.T, method, url string, headers map[string]string, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got, resp.Header
}

// run runs scenarios as parallel subtests, which must not change the
// store, and returns when all are done.
func (f *fixture) run(t *testing.T, scenarios []scenario) {
	t.Helper()
	t.Run("scenarios", func(t *testing.T) { f.runParallel(t, scenarios) })
}

func (f *fixture) runParallel(t *testing.T, scenarios []scenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			status, body, hdr := f.do(t, sc.method, sc.url, sc.headers, sc.body)
			if status != sc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", sc.method, sc.url, status, sc.status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if sc.exact != "" {
				assertJSONEqual(t, body, sc.exact)
			}
			for _, s := range sc.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("body %s does not contain %q", body, s)
				}
			}
			for _, s := range sc.excludes {
				if strings.Contains(string(body), s) {
					t.Errorf("body %s contains %q", body, s)
				}
			}
			if sc.check != nil {
				sc.check(t, body)
			}
		})
	}
}

func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %s is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n %s\nwant\n %s", got, want)
	}
}

func authHeader(token string) map[string]string { return map[string]string{"Authorization": token} }

var jsonType = map[string]string{"Content-Type": "application/json"}
