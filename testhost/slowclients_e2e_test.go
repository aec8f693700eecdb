package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileToken returns a file token for p's superuser.
func (p *proc) fileToken() string {
	p.t.Helper()
	var resp struct{ Token string }
	if status := p.call("POST", "/api/files/token", nil, &resp); status != 200 || resp.Token == "" {
		p.t.Fatalf("file token: %d", status)
	}
	return resp.Token
}

// timed runs f and fails the test when it takes longer than bound.
func timed(t *testing.T, what string, bound time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	took := time.Since(start)
	t.Logf("%s took %v", what, took.Round(time.Millisecond))
	if took > bound {
		t.Errorf("%s took %v, want under %v", what, took, bound)
	}
}

// slowClients holds connections that each sent a request's headers with
// Content-Length: 1000 and then trickle its body a byte at a time.
type slowClients struct {
	mu    sync.Mutex
	conns []net.Conn
	stop  chan struct{}
	done  chan struct{}
}

// continueLine is the interim answer a server sends to "Expect:
// 100-continue" when its handler starts reading the body.
const continueLine = "HTTP/1.1 100 Continue\r\n\r\n"

// openSlowClients opens perAddr connections from each of addrs to addr,
// waits until the server's handler reads each one's body (head asks for
// 100-continue), and starts trickling their bodies.
func openSlowClients(t *testing.T, addr string, addrs []string, perAddr int, head string) *slowClients {
	t.Helper()
	s := &slowClients{stop: make(chan struct{}), done: make(chan struct{})}
	for _, from := range addrs {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 30 * time.Second}
		for range perAddr {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				s.close()
				t.Fatalf("dial from %s: %v", from, err)
			}
			s.conns = append(s.conns, c)
			if _, err := io.WriteString(c, head); err != nil {
				s.close()
				t.Fatalf("send headers from %s: %v", from, err)
			}
		}
	}
	for i, c := range s.conns {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		got := make([]byte, len(continueLine))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != continueLine {
			s.close()
			t.Fatalf("slow client %d: %q, %v; want the server reading its body", i, got, err)
		}
	}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			s.mu.Lock()
			for _, c := range s.conns {
				_ = c.SetWriteDeadline(time.Now().Add(time.Millisecond))
				_, _ = c.Write([]byte{' '})
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// open counts the connections the server has not closed: a read that
// times out rather than ending.
func (s *slowClients) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var b [64]byte
	for _, c := range s.conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				n++
			}
		}
	}
	return n
}

func (s *slowClients) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// TestSlowClientsDoNotLockOutTheAdmin: 2,000 connections trickle login
// bodies a byte at a time (from 40 loopback addresses, as many clients
// would, plus five from the administrator's own address), and the
// superuser still logs in, lists and downloads promptly on connections
// of its own. The slow logins are inside the login handler (it asked for
// their bodies) before the superuser starts.
func TestSlowClientsDoNotLockOutTheAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections to a real testhost")
	}
	bin, pluginsDir := binaries(t)
	p := startProc(t, bin, pluginsDir, filepath.Join(t.TempDir(), "pb_data"), freeLoopback(t))
	p.backupAndWait("before.zip")
	addr := strings.TrimPrefix(p.url, "http://")

	head := "POST /api/collections/_superusers/auth-with-password HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
	var attackers []string
	for i := range 40 {
		attackers = append(attackers, fmt.Sprintf("127.0.0.%d", i+2))
	}
	slow := openSlowClients(t, addr, attackers, 50, head)
	sameAddr := openSlowClients(t, addr, []string{"127.0.0.1"}, 5, head)

	// A fresh client: no connection of its own kept from before.
	admin := &http.Client{Transport: &http.Transport{}}
	defer admin.CloseIdleConnections()
	call := func(method, path, token string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, p.url+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// Generous for a loaded machine (the login alone costs a bcrypt hash
	// of cost 12); the failure this guards against is a login that waits
	// for the slow ones, until the read timeout cuts them.
	const bound = 10 * time.Second
	var token string
	timed(t, "login", bound, func() {
		resp := call("POST", "/api/collections/_superusers/auth-with-password", "",
			strings.NewReader(`{"identity":"`+e2eEmail+`","password":"`+e2ePassword+`"}`))
		defer resp.Body.Close()
		var out struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&out); resp.StatusCode != 200 || err != nil {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		token = out.Token
	})
	timed(t, "list", bound, func() {
		resp := call("GET", "/api/backups", token, nil)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"before.zip"`) {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
	})
	var fileToken string
	timed(t, "file token", bound, func() {
		resp := call("POST", "/api/files/token", token, nil)
		defer resp.Body.Close()
		var out struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&out); resp.StatusCode != 200 || err != nil {
			t.Fatalf("file token: %d %v", resp.StatusCode, err)
		}
		fileToken = out.Token
	})
	want, err := os.ReadFile(filepath.Join(p.dataDir, "backups", "before.zip"))
	if err != nil {
		t.Fatal(err)
	}
	timed(t, "download", bound, func() {
		resp := call("GET", "/api/backups/before.zip?token="+fileToken, "", nil)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("download: %d, %d of %d bytes, %v", resp.StatusCode, len(got), len(want), err)
		}
	})
	// Each slow connection reached the handler (none was refused by a
	// cap); by now the read timeout may have cut the first ones.
	t.Logf("%d of the 2,005 slow connections still open", slow.open()+sameAddr.open())
}

// TestTruncatedDownloadEndsWithoutTail: when the backup's source ends
// before the announced length (here: the file is truncated while it is
// being sent), the connection ends after the file's bytes, with nothing
// else (no JSON error) spliced into the body.
func TestTruncatedDownloadEndsWithoutTail(t *testing.T) {
	bin, pluginsDir := binaries(t)
	p := startProc(t, bin, pluginsDir, filepath.Join(t.TempDir(), "pb_data"), freeLoopback(t))
	const size, cutAt = 64 << 20, 24 << 20
	want := make([]byte, size)
	_, _ = rand.Read(want)
	path := filepath.Join(p.dataDir, "backups", "cut.zip")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	token := p.fileToken()
	addr := strings.TrimPrefix(p.url, "http://")
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /api/backups/cut.zip?token="+token+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	// Read the head and the first MiB, then cut the file while the
	// server is blocked on the full socket.
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(c, first); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, cutAt); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to the end: %v (the server should close the connection)", err)
	}
	raw := append(first, rest...)
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) || !bytes.Contains(head, []byte(fmt.Sprintf("Content-Length: %d", size))) {
		t.Fatalf("response head %q", head)
	}
	t.Logf("received %d of %d body bytes before the connection ended", len(body), size)
	if len(body) >= size {
		t.Fatalf("received the whole body; the cut did not happen")
	}
	if !bytes.Equal(body, want[:len(body)]) {
		i := 0
		for i < len(body) && body[i] == want[i] {
			i++
		}
		t.Fatalf("body differs from the file at byte %d of %d: %q", i, len(body), body[i:min(len(body), i+120)])
	}
}
