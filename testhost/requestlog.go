package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// Bounds of the request log. Its rows go into every backup, so neither a
// client's headers nor a flood of requests may grow it without bound: each
// text field is cut at maxLogField bytes, rows older than the configured
// days are pruned (at start and then every logPruneEvery), and requests
// without a valid auth token add rows from a shared budget of
// unauthLogBurst rows, refilled one every unauthLogEvery; those over it
// are counted, not logged.
const (
	maxLogField      = 512
	unauthLogBurst   = 100
	unauthLogEvery   = time.Second
	logPruneEvery    = time.Hour
	defaultLogsDays  = 5 // PocketBase's default
	logWriteDeadline = 5 * time.Second
)

// requestLogger records /api/ requests in auxiliary.db's _logs table, the
// way PocketBase logs requests (so the auxiliary database changes while
// the app runs, as it does in PocketBase). It is safe for concurrent use.
type requestLogger struct {
	auxDB   *sql.DB
	logger  *slog.Logger
	auth    *auth.Service    // tells authenticated requests and the client's address
	maxDays int              // rows older are pruned; 0 logs nothing
	now     func() time.Time // time.Now when nil

	mu           sync.Mutex
	budgetFull   time.Time // when the unauthenticated budget is full again
	lastPrune    time.Time
	droppedSince int64        // drops not yet reported in the app's log
	dropped      atomic.Int64 // unauthenticated requests not logged, in all
}

func newRequestLogger(auxDB *sql.DB, authSvc *auth.Service, maxDays int, logger *slog.Logger) *requestLogger {
	return &requestLogger{auxDB: auxDB, auth: authSvc, maxDays: maxDays, logger: logger}
}

func (l *requestLogger) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// Dropped returns how many unauthenticated requests were over the budget
// and not logged.
func (l *requestLogger) Dropped() int64 { return l.dropped.Load() }

// wrap returns next with request logging.
func (l *requestLogger) wrap(next http.Handler) http.Handler {
	if l.maxDays <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		start := l.clock()
		sw := &statusWriter{ResponseWriter: w}
		// Deferred: a request that ends in a panic (a download aborted
		// with http.ErrAbortHandler) is logged too.
		defer func() { l.record(r, sw.code(), l.clock().Sub(start)) }()
		next.ServeHTTP(sw, r)
	})
}

// record inserts one request log row, if the request is authenticated or
// the unauthenticated budget allows; a failure is logged, not returned.
func (l *requestLogger) record(r *http.Request, status int, took time.Duration) {
	now := l.clock()
	if !l.authenticated(r) && !l.allow(now) {
		return
	}
	data, err := json.Marshal(map[string]any{
		"type":      "request",
		"method":    capField(r.Method),
		"url":       capField(r.URL.Path), // not the query: it may carry a file token
		"status":    status,
		"execTime":  float64(took.Microseconds()) / 1000,
		"remoteIP":  capField(remoteIP(r.RemoteAddr)),
		"userIP":    capField(l.auth.ClientIP(r)),
		"userAgent": capField(r.UserAgent()),
	})
	if err != nil {
		l.logger.Warn("request log", "error", err)
		return
	}
	level := 0 // INFO, in PocketBase's slog levels
	if status >= http.StatusBadRequest {
		level = 8 // ERROR
	}
	// Log even when the client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), logWriteDeadline)
	defer cancel()
	if _, err := l.auxDB.ExecContext(ctx,
		`INSERT INTO _logs (id, level, message, data, created) VALUES (?, ?, ?, ?, ?)`,
		newID(), level, capField(r.Method+" "+r.URL.Path), string(data), formatDate(now)); err != nil {
		l.logger.Warn("request log", "error", err)
	}
	if l.pruneDue(now) {
		if err := l.prune(ctx); err != nil {
			l.logger.Warn("request log: prune", "error", err)
		}
	}
}

// authenticated reports whether r carries a valid auth token.
func (l *requestLogger) authenticated(r *http.Request) bool {
	if r.Header.Get("Authorization") == "" {
		return false
	}
	_, ok := l.auth.Authenticate(r)
	return ok
}

// allow takes a row from the unauthenticated budget (a token bucket, kept
// as the time it is full again), or counts the request as dropped.
func (l *requestLogger) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ahead := max(l.budgetFull.Sub(now), 0)
	if ahead > (unauthLogBurst-1)*unauthLogEvery {
		l.droppedSince++
		l.dropped.Add(1)
		return false
	}
	l.budgetFull = now.Add(ahead + unauthLogEvery)
	if l.droppedSince > 0 {
		l.logger.Warn("request log: unauthenticated requests over the budget were not logged",
			"count", l.droppedSince, "total", l.dropped.Load())
		l.droppedSince = 0
	}
	return true
}

// pruneDue reports whether the last prune is logPruneEvery old, and if so
// marks one as done now.
func (l *requestLogger) pruneDue(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastPrune) < logPruneEvery {
		return false
	}
	l.lastPrune = now
	return true
}

// prune deletes the rows older than maxDays.
func (l *requestLogger) prune(ctx context.Context) error {
	cutoff := formatDate(l.clock().AddDate(0, 0, -l.maxDays))
	if _, err := l.auxDB.ExecContext(ctx, `DELETE FROM _logs WHERE created < ?`, cutoff); err != nil {
		return fmt.Errorf("delete logs before %s: %w", cutoff, err)
	}
	return nil
}

// capField cuts s to at most maxLogField bytes, on a character boundary.
func capField(s string) string {
	if len(s) <= maxLogField {
		return s
	}
	cut := maxLogField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// statusWriter remembers the status of a response. It keeps streaming
// fast (ReadFrom, Flush) and lets http.ResponseController reach the
// underlying writer (Unwrap).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r) // uses the underlying ReaderFrom
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
