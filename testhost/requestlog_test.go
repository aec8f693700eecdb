package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// logFixture is a request logger over a real auxiliary.db with a clock
// the test moves, in front of a handler that answers 404.
type logFixture struct {
	t       *testing.T
	app     *app
	log     *requestLogger
	handler http.Handler
	now     time.Time
	token   string // a valid superuser auth token
}

func newLogFixture(t *testing.T, maxDays int) *logFixture {
	t.Helper()
	a := newTestApp(t)
	secret, err := a.tokenSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(&authStore{db: a.db}, secret, authCollections,
		auth.WithBcryptCost(bcrypt.MinCost), auth.WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := upsertAuthRecord(t.Context(), a.db, auth.SuperusersID, "root@example.com", "root-password"); err != nil {
		t.Fatal(err)
	}
	rec, err := (&authStore{db: a.db}).FindByEmail(t.Context(), auth.SuperusersID, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	rec.CollectionID, rec.CollectionName = auth.SuperusersID, auth.SuperusersName
	token, err := svc.NewAuthToken(rec)
	if err != nil {
		t.Fatal(err)
	}
	f := &logFixture{t: t, app: a, now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC), token: token}
	f.log = newRequestLogger(a.auxDB, svc, maxDays, slog.New(slog.DiscardHandler))
	f.log.now = func() time.Time { return f.now }
	f.handler = f.log.wrap(http.NotFoundHandler())
	return f
}

// send makes one request; token "" sends none.
func (f *logFixture) send(path, token string, header map[string]string) {
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	f.handler.ServeHTTP(httptest.NewRecorder(), req)
}

func (f *logFixture) rows() int {
	f.t.Helper()
	var n int
	if err := f.app.auxDB.QueryRowContext(f.t.Context(), `SELECT count(*) FROM _logs`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestRequestLogCapsFields(t *testing.T) {
	f := newLogFixture(t, defaultLogsDays)
	longPath := "/api/" + strings.Repeat("p", 5000)
	f.send(longPath, "", map[string]string{"User-Agent": strings.Repeat("é", 50_000)})
	var message, data string
	if err := f.app.auxDB.QueryRowContext(t.Context(), `SELECT message, data FROM _logs`).Scan(&message, &data); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"message": message, "url": d["url"].(string), "userAgent": d["userAgent"].(string)} {
		if len(v) > maxLogField || len(v) < maxLogField-4 || !utf8.ValidString(v) {
			t.Errorf("%s: %d bytes (valid UTF-8 %v), want cut at %d", name, len(v), utf8.ValidString(v), maxLogField)
		}
	}
	if len(data) > 4*maxLogField {
		t.Errorf("row data is %d bytes", len(data))
	}
}

func TestRequestLogPrunesOldRows(t *testing.T) {
	f := newLogFixture(t, 2)
	insert := func(age time.Duration) {
		t.Helper()
		if _, err := f.app.auxDB.ExecContext(t.Context(), `INSERT INTO _logs (id, message, created) VALUES (?, 'old', ?)`,
			newID(), formatDate(f.now.Add(-age))); err != nil {
			t.Fatal(err)
		}
	}
	insert(72 * time.Hour)
	insert(49 * time.Hour)
	insert(47 * time.Hour)
	f.send("/api/x", f.token, nil)
	if n := f.rows(); n != 2 {
		t.Fatalf("%d rows after the first request, want the 47 h old one and the new one", n)
	}
	insert(72 * time.Hour)
	f.now = f.now.Add(30 * time.Minute)
	f.send("/api/x", f.token, nil)
	if n := f.rows(); n != 4 {
		t.Fatalf("%d rows: pruned again within the hour", n)
	}
	f.now = f.now.Add(31 * time.Minute)
	f.send("/api/x", f.token, nil)
	if n := f.rows(); n != 3 {
		t.Fatalf("%d rows: the next hour's prune did not run", n)
	}
}

func TestRequestLogBudgetForUnauthenticated(t *testing.T) {
	f := newLogFixture(t, defaultLogsDays)
	for range unauthLogBurst + 50 {
		f.send("/api/nope", "", nil)
	}
	if n, dropped := f.rows(), f.log.Dropped(); n != unauthLogBurst || dropped != 50 {
		t.Fatalf("%d rows, %d dropped; want %d and 50", n, dropped, unauthLogBurst)
	}
	for range 3 {
		f.send("/api/nope", "not-a-token", nil)
	}
	for range 20 {
		f.send("/api/nope", f.token, nil)
	}
	if n, dropped := f.rows(), f.log.Dropped(); n != unauthLogBurst+20 || dropped != 53 {
		t.Fatalf("%d rows, %d dropped; want authenticated requests all logged, bad tokens dropped", n, dropped)
	}
	f.now = f.now.Add(5 * unauthLogEvery)
	for range 6 {
		f.send("/api/nope", "", nil)
	}
	if n, dropped := f.rows(), f.log.Dropped(); n != unauthLogBurst+25 || dropped != 54 {
		t.Fatalf("after refilling 5: %d rows, %d dropped", n, dropped)
	}
}

func TestRequestLogOff(t *testing.T) {
	f := newLogFixture(t, 0)
	f.send("/api/x", f.token, nil)
	f.send("/api/x", "", nil)
	if n := f.rows(); n != 0 {
		t.Errorf("%d rows with --logs-max-days=0", n)
	}
}
