package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/plugin/storage/storagetest"
	"github.com/pocketbackup/pocketbackup/shared"
)

// TestAzure: the conformance suite over azblob:// against Azurite, a fresh
// container per subtest. Before uploads went through the driver's Upload
// path, CancelMidWriteThenAbort and CommitAfterCancelFails panicked here.
func TestAzure(t *testing.T) {
	a := sharedAzurite(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, a.url(a.newContainer(t))) })
}

// TestGCS: the conformance suite over gs:// against fake-gcs-server, a
// fresh bucket per subtest.
func TestGCS(t *testing.T) {
	f := sharedFakeGCS(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, "gs://"+f.newBucket(t)) })
}

// TestAzureContainerDeletedMidWrite: the container goes away while a
// backup is being written. Commit (or Abort) must not panic, and Commit
// reports the real cause: the container does not exist.
func TestAzureContainerDeletedMidWrite(t *testing.T) {
	a := sharedAzurite(t)
	for _, end := range []string{"commit", "abort"} {
		t.Run(end, func(t *testing.T) {
			container := a.newContainer(t)
			s := open(t, a.url(container))
			defer s.Close()
			w, err := s.NewWriter(t.Context(), "doomed.zip")
			if err != nil {
				t.Fatal(err)
			}
			chunk := bytes.Repeat([]byte("d"), mib)
			if _, err := w.Write(chunk); err != nil {
				t.Fatalf("Write before the delete: %v", err)
			}
			if _, err := a.client.DeleteContainer(t.Context(), container, nil); err != nil {
				t.Fatalf("delete container: %v", err)
			}
			_, werr := w.Write(chunk) // may fail already, with the cause
			if werr != nil && !errors.Is(werr, shared.ErrNoBucket) {
				t.Errorf("Write after the delete: %v, want ErrNoBucket or nil", werr)
			}
			switch end {
			case "commit":
				err := w.Commit()
				if !errors.Is(err, shared.ErrNoBucket) || errors.Is(err, shared.ErrNotFound) {
					t.Errorf("Commit: %v, want ErrNoBucket (not ErrNotFound)", err)
				}
				if err := w.Abort(); err != nil {
					t.Errorf("Abort after the failed Commit: %v", err)
				}
			case "abort":
				if err := w.Abort(); err != nil {
					t.Errorf("Abort: %v", err)
				}
			}
		})
	}
}

// TestAzureRefusedKey: an Azurite whose account has another key refuses
// ours. Listing, writing and aborting say so (ErrAccessDenied), without
// a panic and without the key.
func TestAzureRefusedKey(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: starts a second Azurite")
	}
	other := "b3RoZXJrZXlvdGhlcmtleW90aGVya2V5b3RoZXJrZXk=" // base64, as Azure keys are
	a, err := startAzurite([]string{"AZURITE_ACCOUNTS=" + azuriteAccount + ":" + other})
	if err != nil {
		skipOrFail(t, err)
	}
	s := open(t, a.url("any"))
	defer s.Close()
	_, err = s.List(t.Context())
	if !errors.Is(err, shared.ErrAccessDenied) {
		t.Errorf("List: %v, want ErrAccessDenied", err)
	}
	noSecrets(t, err, azuriteKey, other)

	w, err := s.NewWriter(t.Context(), "refused.zip")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(bytes.Repeat([]byte("r"), mib)) // may fail already
	err = w.Commit()
	if !errors.Is(err, shared.ErrAccessDenied) {
		t.Errorf("Commit: %v, want ErrAccessDenied", err)
	}
	noSecrets(t, err, azuriteKey, other)

	w, err = s.NewWriter(t.Context(), "refused2.zip")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(bytes.Repeat([]byte("r"), mib))
	if err := w.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
}

// TestMissingBucket: on every provider, a missing bucket or container is
// ErrNoBucket, never ErrNotFound (which means a missing backup), for
// every operation.
func TestMissingBucket(t *testing.T) {
	f := newFakeS3(t, false)
	stores := map[string]func(t *testing.T) string{
		"s3":    func(t *testing.T) string { return f.url("no-such-bucket", "") },
		"azure": func(t *testing.T) string { return sharedAzurite(t).url("no-such-container") },
		"gcs":   func(t *testing.T) string { sharedFakeGCS(t); return "gs://no-such-bucket" },
	}
	for name, url := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t, url(t))
			defer s.Close()
			ctx := t.Context()
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, shared.ErrNoBucket) || errors.Is(err, shared.ErrNotFound) {
					t.Errorf("%s: %v, want ErrNoBucket (not ErrNotFound)", op, err)
				}
			}
			_, err := s.List(ctx)
			check("List", err)
			_, err = s.Stat(ctx, "x.zip")
			check("Stat", err)
			_, err = s.NewRangeReader(ctx, "x.zip", 0, -1)
			check("NewRangeReader", err)
			check("Delete", s.Delete(ctx, "x.zip"))
			w, err := s.NewWriter(ctx, "x.zip")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte("PK\x03\x04"))
			check("Commit", w.Commit())
		})
	}
}

// TestGCSUnreachable: the GCS client retries idempotent calls until its
// context ends. Against a closed port and against a server that accepts
// and never answers, list, stat and a whole create end within a bounded
// time with ErrStorageUnreachable, and the error names the store.
func TestGCSUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"closed port", closedPort},
		{"silent server", silentListener},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Only this test's opens read it; gocloud reads it at each open.
			t.Setenv("STORAGE_EMULATOR_HOST", c.addr(t))
			opts := storage.Options{CallTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second}
			s, err := opts.Open(t.Context(), "gs://far-bucket")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Bounds are generous (the machine may be loaded); without
			// deadlines each of these calls never returns.
			const limit = 60 * time.Second
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, shared.ErrStorageUnreachable) || !strings.Contains(err.Error(), "gs://far-bucket") {
					t.Errorf("%s: %v, want ErrStorageUnreachable naming gs://far-bucket", op, err)
				}
			}
			check("List", within(t, limit, "List", func(ctx context.Context) error {
				_, err := s.List(ctx)
				return err
			}))
			check("Stat", within(t, limit, "Stat", func(ctx context.Context) error {
				_, err := s.Stat(ctx, "x.zip")
				return err
			}))
			check("create", within(t, limit, "create", func(ctx context.Context) error {
				w, err := s.NewWriter(ctx, "x.zip")
				if err != nil {
					return err
				}
				// More than one 16 MiB part: against the silent server a
				// Write blocks, which the stall guard must end.
				if _, err := io.Copy(w, io.LimitReader(neverEnding('c'), 40*mib)); err != nil {
					return errors.Join(err, w.Abort())
				}
				return w.Commit()
			}))
		})
	}
}

// TestGCSRetryBudget: with the default deadlines, a closed port fails a
// listing after the client's few retries, well before the call timeout.
func TestGCSRetryBudget(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", closedPort(t))
	s := open(t, "gs://far-bucket")
	defer s.Close()
	start := time.Now()
	_, err := s.List(t.Context())
	if !errors.Is(err, shared.ErrStorageUnreachable) {
		t.Errorf("List: %v, want ErrStorageUnreachable", err)
	}
	if took := time.Since(start); took >= storage.DefaultCallTimeout {
		t.Errorf("List took %s: the call timeout, not the retry budget, ended it", took)
	}
}

// neverEnding is an endless reader of one byte.
type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestReadStallEnds: a store that starts answering a read and then stops
// sending ends the Read after the idle timeout with ErrStorageUnreachable
// (a consumer that is slow between Reads is never cut).
func TestReadStallEnds(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(10*mib))
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(bytes.Repeat([]byte("s"), 64<<10))
			w.(http.Flusher).Flush()
			select { // then nothing more
			case <-stop:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(stop)
	opts := storage.Options{CallTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second}
	s, err := opts.Open(t.Context(), "s3://stall-bucket?endpoint="+srv.URL+"&use_path_style=true&access_key=AKIDSTALL&secret=SECRETSTALL")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.NewRangeReader(t.Context(), "x.zip", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Slow between Reads: longer than the idle timeout, never cut.
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("first read: %v", err)
	}
	time.Sleep(3 * time.Second)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read after a pause of the consumer: %v", err)
	}
	err = within(t, 60*time.Second, "the stalled read", func(context.Context) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, shared.ErrStorageUnreachable) || !strings.Contains(err.Error(), "s3://stall-bucket") {
		t.Fatalf("stalled read: %v, want ErrStorageUnreachable naming s3://stall-bucket", err)
	}
	noSecrets(t, err, "SECRETSTALL")
}
