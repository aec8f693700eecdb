package host_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serverTimeout is the read and write timeout of deadlineServer: short, so
// that a transfer that did not lift it would fail at once.
const serverTimeout = 300 * time.Millisecond

// deadlineServer serves e's routes with server-wide read and write
// timeouts, as an embedding app is told to.
func deadlineServer(t *testing.T, e *env) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.router)
	srv.Config.ReadTimeout = serverTimeout
	srv.Config.WriteTimeout = serverTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// trickle yields data in pieces of piece bytes, pausing before each.
type trickle struct {
	data  []byte
	piece int
	pause time.Duration
	left  int // of the current piece
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.left == 0 {
		time.Sleep(r.pause) // the client's pace, not the server's sequencing
		r.left = r.piece
	}
	n := copy(p[:min(len(p), r.left)], r.data)
	r.data, r.left = r.data[n:], r.left-n
	return n, nil
}

// TestTransfersLiftServerDeadlines: behind a server whose read and write
// timeouts are far shorter than a transfer, a superuser's slow upload and
// slow download still complete.
func TestTransfersLiftServerDeadlines(t *testing.T) {
	e := newEnv(t)
	url := deadlineServer(t, e)
	// Larger than loopback's socket buffers, so the download's writes
	// must wait for the slow reader.
	payload := storedZip(t, 16<<20)
	body, ctype := multipartBody("file", "slow.zip", payload)
	raw := body(t)
	slow := &trickle{data: raw, piece: len(raw)/10 + 1, pause: serverTimeout / 2}
	req, _ := http.NewRequest("POST", url+"/api/backups/upload", slow)
	req.ContentLength = int64(len(raw))
	req.Header.Set("Authorization", e.superTok)
	req.Header.Set("Content-Type", ctype)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("slow upload: %d %s", resp.StatusCode, got)
	}
	if took := time.Since(start); took < 2*serverTimeout {
		t.Fatalf("upload took %v: not slower than the server's timeout, proves nothing", took)
	}

	resp, err = http.Get(url + "/api/backups/slow.zip?token=" + e.superFile)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var down bytes.Buffer
	start = time.Now()
	for {
		_, err := io.CopyN(&down, resp.Body, 1<<20)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow download after %d bytes, %v: %v", down.Len(), time.Since(start), err)
		}
		time.Sleep(serverTimeout / 3)
	}
	if !bytes.Equal(down.Bytes(), payload) || time.Since(start) < 2*serverTimeout {
		t.Fatalf("slow download: %d of %d bytes in %v", down.Len(), len(payload), time.Since(start))
	}
}

// TestUploadKeepsDeadlinesBeforeAuth: an upload without valid auth keeps
// the server's read timeout, so its slow body is cut.
func TestUploadKeepsDeadlinesBeforeAuth(t *testing.T) {
	e := newEnv(t)
	addr := strings.TrimPrefix(deadlineServer(t, e), "http://")
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Under the body the server drains after answering (256 KiB), so a
	// lifted deadline would keep reading it.
	head := "POST /api/backups/upload HTTP/1.1\r\nHost: x\r\nAuthorization: " + e.userTok +
		"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	closed := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		closed <- b
	}()
	start := time.Now()
	for {
		select {
		case b := <-closed:
			// The 403 may be lost: the write timeout has passed too.
			t.Logf("closed after %v with %q", time.Since(start).Round(time.Millisecond), b)
			return
		case <-time.After(serverTimeout / 3):
			if time.Since(start) > 30*time.Second {
				t.Fatal("the slow body of a forbidden upload is still being read")
			}
			_, _ = c.Write([]byte("x"))
		}
	}
}
