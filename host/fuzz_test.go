package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/host/auth"
)

// fuzzBoundary is the boundary every FuzzUploadBody input is sent with.
const fuzzBoundary = "FuZzBoUnDaRy"

// fuzzServer is a host with the real plugin for a fuzz target: one per
// fuzzing process, shared by every input.
type fuzzServer struct {
	url, token, dataDir string
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	dataDir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "secret.txt"), []byte(secretInside), 0o600); err != nil {
		tb.Fatal(err)
	}
	store := &memStore{records: map[string]auth.Record{}}
	hash, err := auth.HashPasswordCost("secret-password", 4)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	super := auth.Record{ID: "superuser000001", CollectionID: auth.SuperusersID, CollectionName: auth.SuperusersName,
		Email: "admin@example.com", PasswordHash: hash, TokenKey: auth.NewTokenKey(), Created: now, Updated: now}
	store.put(super)
	authSvc := auth.New(store, []byte(strings.Repeat("s", 32)), []auth.Collection{auth.Superusers()}, auth.WithBcryptCost(4))
	h, err := host.New(context.Background(), host.Config{DataDir: dataDir, PluginsDir: pluginDir, Auth: authSvc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	router := httprouter.New()
	h.Register(router)
	srv := httptest.NewServer(router)
	tb.Cleanup(func() {
		srv.Close()
		_ = h.Close()
	})
	tok, err := authSvc.NewAuthToken(super)
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzServer{url: srv.URL, token: tok, dataDir: dataDir}
}

// FuzzUploadBody sends arbitrary bytes as the multipart body of an upload
// (boundary fuzzBoundary) through a real host and plugin: the answer is
// always 204 or a 400 in the contract's shape, never a 500, a panic (a
// cut connection) or a temp file left in the store. The committed corpus
// (testdata/fuzz/FuzzUploadBody) holds a valid upload and the broken
// bodies of TestHostileUploadBodies.
func FuzzUploadBody(f *testing.F) {
	srv := newFuzzServer(f)
	before := uploadTemps(f)
	f.Cleanup(func() {
		if left := storeLeftovers(f, srv.dataDir); len(left) > 0 {
			for _, name := range left {
				if strings.HasPrefix(name, ".") {
					f.Errorf("store holds %s after fuzzing", name)
				}
			}
		}
		assertNoNewTemps(f, before)
	})
	f.Add(multipartParts(fuzzBoundary, [2]string{`Content-Disposition: form-data; name="file"; filename="seed.zip"`, string(storedZip(f, 64))}))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest("POST", srv.url+"/api/backups/upload", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", srv.token)
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("no answer (did the handler panic?): %v", err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer cut off (did the handler panic?): %v", err)
		}
		switch resp.StatusCode {
		case http.StatusNoContent:
			return
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		var e struct {
			Status  int            `json:"status"`
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal(got, &e); err != nil || e.Status != 400 || e.Message == "" || e.Data == nil {
			t.Fatalf("not the contract's error shape (%v): %s", err, got)
		}
		if bytes.Contains(got, []byte(secretInside)) || bytes.Contains(got, []byte(srv.dataDir)) {
			t.Fatalf("answer leaks a path or a file: %s", got)
		}
	})
}
