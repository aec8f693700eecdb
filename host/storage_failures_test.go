package host_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// syncBuffer is a log destination the test reads while the host writes.
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

// silentListener accepts TCP connections on loopback and never answers:
// a store that is up but hung. It returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestStartupCheckReportsHungStorage: when the start-up check of a store
// that accepts connections and never answers times out, the log says the
// storage is unreachable and the check timed out, never that it is ready.
func TestStartupCheckReportsHungStorage(t *testing.T) {
	addr := silentListener(t)
	logs := &syncBuffer{}
	newEnvWith(t, func(cfg *host.Config) {
		cfg.StorageURL = "s3://hung-bucket?endpoint=http://" + addr + "&use_path_style=true&access_key=AKIDHUNG&secret=SECRETHUNG"
		// Well below the plugin's own deadline for a storage call, so
		// that the host's check is what ends the wait.
		cfg.StorageCheckTimeout = 2 * time.Second
		cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	// Generous: the machine may be loaded; the check itself ends at 2 s.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(logs.String(), "backups storage") {
		if time.Now().After(deadline) {
			t.Fatalf("no start-up check outcome logged:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := logs.String()
	if strings.Contains(got, "backups storage ready") {
		t.Fatalf("a hung store was called ready:\n%s", got)
	}
	if !strings.Contains(got, "backups storage unreachable: the check timed out") {
		t.Fatalf("log does not say the storage is unreachable and the check timed out:\n%s", got)
	}
	if strings.Contains(got, "SECRETHUNG") {
		t.Fatalf("secret in the log:\n%s", got)
	}
}

// TestMissingBucketIsNotAMissingBackup: against an S3-protocol server
// without the bucket, every route that reaches the storage answers 503
// with the contract's JSON saying that the bucket does not exist, never
// 404 "not found" as if a backup were missing.
func TestMissingBucketIsNotAMissingBackup(t *testing.T) {
	endpoint := fakeS3(t, "other-bucket")
	e := newEnvWith(t, func(cfg *host.Config) {
		cfg.StorageURL = "s3://missing-bucket?endpoint=" + endpoint + "&use_path_style=true&access_key=AKIDEXAMPLE&secret=SECRETEXAMPLE"
		cfg.Shutdown = func(context.Context) error { return nil } // restores enabled; none gets that far
	})
	const want = `{"status":503,"message":"The backups storage bucket or container does not exist.","data":{}}`
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/backups", ""},
		{"POST", "/api/backups", `{"name":"new.zip"}`},
		{"GET", "/api/backups/some.zip?token=" + e.superFile, ""},
		{"DELETE", "/api/backups/some.zip", ""},
		{"POST", "/api/backups/some.zip/restore", ""},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		status, got, _ := e.do(c.method, c.path, e.superTok, "application/json", body)
		if status != 503 {
			t.Errorf("%s %s: status %d %s, want 503", c.method, c.path, status, got)
			continue
		}
		assertJSONEqual(t, got, want)
	}
}

// TestUnreachableStorageAnswers503: with nothing listening at the storage's
// endpoint, listing answers within a bounded time with a 503 that says the
// storage could not be reached.
func TestUnreachableStorageAnswers503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port
	e := newEnvWith(t, func(cfg *host.Config) {
		cfg.StorageURL = "s3://far-bucket?endpoint=http://" + addr + "&use_path_style=true&access_key=AKIDEXAMPLE&secret=SECRETEXAMPLE"
	})
	start := time.Now()
	status, got, _ := e.do("GET", "/api/backups", e.superTok, "", nil)
	// Generous (a loaded machine); without deadlines some stores never answer.
	if took := time.Since(start); took > 60*time.Second {
		t.Errorf("list took %s", took)
	}
	if status != 503 {
		t.Fatalf("list: %d %s, want 503", status, got)
	}
	assertJSONEqual(t, got, `{"status":503,"message":"The backups storage could not be reached or did not answer in time.","data":{}}`)
	// Counted: the list above, and the listing the scrape itself makes.
	if v := metricValue(e.scrape(), "pocketbackup_storage_errors_total", map[string]string{"kind": "unreachable"}); v != 2 {
		t.Errorf("storage errors = %v, want 2", v)
	}
}
