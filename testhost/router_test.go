package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/julienschmidt/httprouter"
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
	r := newRouter(hclog.NewNullLogger())
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

func TestHTTPServerHasNoBodyTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), hclog.NewNullLogger())
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v WriteTimeout %v: long uploads and downloads would be cut", srv.ReadTimeout, srv.WriteTimeout)
	}
	if srv.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("ReadHeaderTimeout %v", srv.ReadHeaderTimeout)
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
	go func() { done <- runServer(ctx, ln, h, hclog.NewNullLogger()) }()

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
	err = runServer(t.Context(), ln, http.NotFoundHandler(), hclog.NewNullLogger())
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("err = %v, want the listener's error", err)
	}
}
