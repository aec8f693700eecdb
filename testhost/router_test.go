package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

func TestRouterErrorShapes(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/nope", 404, notFoundBody},
		{"GET", "/", 404, notFoundBody},
		{"GET", "/api/collections/other/records", 404, notFoundBody},
		{"PUT", notesPath, 405, `{"status":405,"message":"Method not allowed.","data":{}}`},
		{"GET", "/api/collections/_superusers/auth-with-password", 405, `{"status":405,"message":"Method not allowed.","data":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := s.doJSON(tc.method, tc.path, "", "")
			if resp.status != tc.status || strings.TrimSpace(string(resp.body)) != tc.body {
				t.Errorf("got %d %s, want %d %s", resp.status, resp.body, tc.status, tc.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status == 405 && resp.header.Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
}

func TestRouterRecoversPanics(t *testing.T) {
	r := newRouter(slog.New(slog.DiscardHandler))
	r.GET("/api/boom", func(http.ResponseWriter, *http.Request, httprouter.Params) { panic("secret detail") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/api/boom", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(rec.Body.String(), `"status":500`) {
		t.Errorf("panic answered %d %s", rec.Code, rec.Body)
	}
}

func TestCORS(t *testing.T) {
	s := newTestServer(t)
	req, _ := http.NewRequestWithContext(t.Context(), "OPTIONS", s.url+notesPath, nil)
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "DELETE") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization,content-type" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	req, _ = http.NewRequestWithContext(t.Context(), "GET", s.url+"/api/nope", nil)
	req.Header.Set("Origin", "http://example.com")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("simple request without ACAO: %v", resp.Header)
	}
}

func TestRequestLog(t *testing.T) {
	s := newTestServer(t)
	s.doJSON("GET", notesPath+"?token=very-secret-token", "", "")
	s.doJSON("GET", "/not-api", "", "")

	rows, err := s.app.auxDB.QueryContext(t.Context(), `SELECT level, message, data, created FROM _logs ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var level int
		var message, data, created string
		if err := rows.Scan(&level, &message, &data, &created); err != nil {
			t.Fatal(err)
		}
		got = append(got, message)
		if strings.Contains(data, "very-secret-token") {
			t.Errorf("log row keeps the query's token: %s", data)
		}
		if parseDate(created).IsZero() {
			t.Errorf("created %q", created)
		}
		if message == "GET "+notesPath {
			var d map[string]any
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatal(err)
			}
			if d["status"] != float64(401) || d["method"] != "GET" || d["url"] != notesPath || level != 8 {
				t.Errorf("log row level %d data %s", level, data)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "GET "+notesPath {
		t.Errorf("logged %q, want only the /api/ request", got)
	}
}

func TestStatusWriterKeepsResponseControls(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through the wrapper: %v", err)
		}
		w.WriteHeader(http.StatusPartialContent)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush through the wrapper: %v", err)
		}
		if _, err := io.Copy(w, strings.NewReader("streamed")); err != nil {
			t.Error(err)
		}
	})
	var status int
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status = sw.code()
	})
	srv := httptest.NewServer(wrapped)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(body) != "streamed" || status != 206 {
		t.Errorf("got %d %q, recorded %d", resp.StatusCode, body, status)
	}
}

func TestListenURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8090": "http://127.0.0.1:8090",
		"0.0.0.0:80":     "http://localhost:80",
		"[::]:8090":      "http://localhost:8090",
		"[::1]:8090":     "http://[::1]:8090",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := listenURL(tcp); got != want {
			t.Errorf("listenURL(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), defaultLimits)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts: header %v read %v write %v idle %v; slow clients could hold connections for ever",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if defaultLimits.MaxConns <= 0 || defaultLimits.MaxConnsPerAddr <= 0 || defaultLimits.MaxConnsPerAddr >= defaultLimits.MaxConns {
		t.Errorf("connection caps %+v", defaultLimits)
	}
}
func TestRunServerShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, ln, h, slog.New(slog.DiscardHandler), defaultLimits) }()

	type result struct {
		body string
		err  error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		inFlight <- result{string(b), err}
	}()
	<-started
	cancel()

	// The listener closes at once; the request in flight goes on.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("runServer returned (%v) before the request in flight finished", err)
	default:
	}
	close(release)
	if r := <-inFlight; r.err != nil || r.body != "finished" {
		t.Errorf("request in flight: %q, %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("runServer: %v", err)
	}
}

func TestRunServerReportsServeErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = runServer(t.Context(), ln, http.NotFoundHandler(), slog.New(slog.DiscardHandler), defaultLimits)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("err = %v, want the listener's error", err)
	}
}

// rawRequest opens a TCP connection to addr from the loopback address
// from and writes head (request line and headers).
func rawRequest(t *testing.T, from, addr, head string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowBodyCutByReadTimeout: a login whose body trickles in a byte at a
// time is cut when the server's read timeout ends, and the connection
// closed, long before the body could arrive.
func TestSlowBodyCutByReadTimeout(t *testing.T) {
	a := newTestApp(t)
	secret, err := a.tokenSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(&authStore{db: a.db}, secret, authCollections, auth.WithLogger(slog.New(slog.DiscardHandler)))
	logger := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := defaultLimits
	limits.Read = time.Second
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runServer(ctx, ln, appHandler(appRouter(a, svc, logger), newRequestLogger(a.auxDB, svc, 0, logger)), logger, limits)
	}()
	defer func() { cancel(); <-done }()

	c := rawRequest(t, "127.0.0.1", ln.Addr().String(), "POST /api/collections/_superusers/auth-with-password HTTP/1.1\r\n"+
		"Host: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	start := time.Now()
	closed := make(chan struct{})
	go func() { // what the server sends, until it closes
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	sent := 0
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			if elapsed := time.Since(start); elapsed > 15*time.Second {
				t.Errorf("cut after %v", elapsed)
			}
			t.Logf("connection closed after %v, %d of 1000 body bytes sent", time.Since(start).Round(time.Millisecond), sent)
			return
		case <-tick.C:
			if time.Since(start) > 30*time.Second {
				t.Fatalf("slow body still being read after %v (%d bytes sent)", time.Since(start), sent)
			}
			if _, err := io.WriteString(c, "{"); err == nil {
				sent++
			}
		}
	}
}

// TestRouterLetsAbortThrough: a handler that aborts with
// http.ErrAbortHandler after sending part of its body gets nothing more
// written after it; the connection just ends.
func TestRouterLetsAbortThrough(t *testing.T) {
	r := newRouter(slog.New(slog.DiscardHandler))
	r.GET("/api/cut", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, strings.Repeat("d", 100))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	c := rawRequest(t, "127.0.0.1", srv.Listener.Addr().String(), "GET /api/cut HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (the connection should end)", err)
	}
	_, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if body != strings.Repeat("d", 100) {
		t.Errorf("body after the abort: %q", body)
	}
}
