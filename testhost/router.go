package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/apierror"
	"github.com/pocketbackup/pocketbackup/host/auth"
)

// HTTP server timeouts. There is deliberately no ReadTimeout or
// WriteTimeout: uploading, downloading and restoring large backups take as
// long as they take.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// msgMethodNotAllowed is the message of the 405 answer.
const msgMethodNotAllowed = "Method not allowed."

// newRouter returns a router whose unknown routes, wrong methods and
// panicking handlers answer in the contract's JSON error shape.
func newRouter(logger hclog.Logger) *httprouter.Router {
	r := httprouter.New()
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierror.Write(w, apierror.NotFound())
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierror.Write(w, apierror.New(http.StatusMethodNotAllowed, msgMethodNotAllowed))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		logger.Error("handler panic", "method", req.Method, "path", req.URL.Path, "panic", v)
		apierror.Write(w, apierror.Internal())
	}
	return r
}

// appRouter returns the router with the app's own routes: auth (login,
// refresh, file tokens) and the notes collection. The host adds its routes
// to it.
func appRouter(a *app, authSvc *auth.Service, logger hclog.Logger) *httprouter.Router {
	r := newRouter(logger)
	authSvc.Register(r)
	registerNotes(r, &notesAPI{db: a.db, logger: logger}, authSvc.RequireSuperuser)
	return r
}

// appHandler wraps the complete router with CORS and request logging.
func appHandler(a *app, r *httprouter.Router, logger hclog.Logger) http.Handler {
	reqLog := &requestLogger{auxDB: a.auxDB, logger: logger}
	return withCORS(reqLog.wrap(r))
}

// withCORS allows any origin, as PocketBase does by default, and answers
// preflight requests itself.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, PATCH, POST, DELETE")
			if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
				h.Set("Access-Control-Allow-Headers", reqHeaders)
			}
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Range, Accept-Ranges")
		next.ServeHTTP(w, r)
	})
}

// requestLogger records every /api/ request in auxiliary.db's _logs table,
// the way PocketBase logs requests (so the auxiliary database changes while
// the app runs, as it does in PocketBase).
type requestLogger struct {
	auxDB  *sql.DB
	logger hclog.Logger
	now    func() time.Time // time.Now when nil
}

func (l *requestLogger) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// wrap returns next with request logging.
func (l *requestLogger) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		start := l.clock()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		l.record(r, sw.code(), l.clock().Sub(start))
	})
}

// record inserts one request log row; a failure is logged, not returned.
func (l *requestLogger) record(r *http.Request, status int, took time.Duration) {
	data, err := json.Marshal(map[string]any{
		"type":      "request",
		"method":    r.Method,
		"url":       r.URL.Path, // not the query: it may carry a file token
		"status":    status,
		"execTime":  float64(took.Microseconds()) / 1000,
		"remoteIP":  remoteIP(r.RemoteAddr),
		"userAgent": r.UserAgent(),
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if _, err := l.auxDB.ExecContext(ctx,
		`INSERT INTO _logs (id, level, message, data, created) VALUES (?, ?, ?, ?, ?)`,
		newID(), level, r.Method+" "+r.URL.Path, string(data), formatDate(l.clock())); err != nil {
		l.logger.Warn("request log", "error", err)
	}
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

// listenURL is the base URL clients reach ln at.
func listenURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// newHTTPServer returns the server for h: a header timeout against idle
// connections, no body or response timeout.
func newHTTPServer(h http.Handler, logger hclog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// runServer serves h on ln until ctx ends, then shuts down gracefully:
// requests in flight get shutdownTimeout to finish before their
// connections are closed.
func runServer(ctx context.Context, ln net.Listener, h http.Handler, logger hclog.Logger) error {
	srv := newHTTPServer(h, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("requests still running after the shutdown timeout; closing their connections")
		err = srv.Close()
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}
