package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/auth"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// serverLimits bound what one connection can hold: how long its request
// headers, its whole request, its response and its idle keep-alive may
// take, and how many connections are open at once. The upload and download
// handlers lift the read and write deadlines of their own request once its
// auth has passed (package host), so large backups still take as long as
// they take; every other request is small.
type serverLimits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxConns, MaxConnsPerAddr     int
}

// defaultLimits are the limits "testhost serve" runs with.
var defaultLimits = serverLimits{
	ReadHeader:      10 * time.Second,
	Read:            30 * time.Second,
	Write:           2 * time.Minute,
	Idle:            2 * time.Minute,
	MaxConns:        4096,
	MaxConnsPerAddr: 64,
}

// shutdownTimeout is how long requests in flight get at shutdown.
const shutdownTimeout = 10 * time.Second

// msgMethodNotAllowed is the message of the 405 answer.
const msgMethodNotAllowed = "Method not allowed."

// newRouter returns a router whose unknown routes, wrong methods and
// panicking handlers answer in the contract's JSON error shape.
func newRouter(logger *slog.Logger) *httprouter.Router {
	r := httprouter.New()
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		jsonapi.Write(w, jsonapi.NotFound())
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		jsonapi.Write(w, jsonapi.New(http.StatusMethodNotAllowed, msgMethodNotAllowed))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		if v == http.ErrAbortHandler {
			// A handler cut its response short on purpose (a download
			// whose source broke off, after the 200 and its
			// Content-Length were sent): net/http then closes the
			// connection. Writing an error now would splice JSON into
			// the body the client is saving.
			panic(v)
		}
		logger.Error("handler panic", "method", req.Method, "path", req.URL.Path, "panic", v)
		jsonapi.Write(w, jsonapi.Internal())
	}
	return r
}

// appRouter returns the router with the app's own routes: auth (login,
// refresh, file tokens) and the notes collection. The host adds its routes
// to it.
func appRouter(a *app, authSvc *auth.Service, logger *slog.Logger) *httprouter.Router {
	r := newRouter(logger)
	authSvc.Register(r)
	registerNotes(r, &notesAPI{db: a.db, logger: logger}, authSvc.RequireSuperuser)
	return r
}

// appHandler wraps the complete router with CORS and request logging.
func appHandler(r *httprouter.Router, reqLog *requestLogger) http.Handler {
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

// newHTTPServer returns the server for h with limits' timeouts.
func newHTTPServer(h http.Handler, logger *slog.Logger, limits serverLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeader,
		ReadTimeout:       limits.Read,
		WriteTimeout:      limits.Write,
		IdleTimeout:       limits.Idle,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// runServer serves h on ln with limits' timeouts until ctx ends, then
// shuts down gracefully: requests in flight get shutdownTimeout to finish
// before their connections are closed. ln is expected to enforce the
// connection caps already (connlimit).
func runServer(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, limits serverLimits) error {
	srv := newHTTPServer(h, logger, limits)
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
