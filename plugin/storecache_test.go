package plugin_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// closeRecorder is a real store that records whether it was closed.
type closeRecorder struct {
	storage.Store
	url    string
	opened *openRecord
}

func (c *closeRecorder) Close() error {
	c.opened.mu.Lock()
	c.opened.closed[c.url]++
	c.opened.mu.Unlock()
	return c.Store.Close()
}

// openRecord counts the opens and closes of each URL.
type openRecord struct {
	mu     sync.Mutex
	opens  map[string]int
	closed map[string]int
}

func (r *openRecord) open(ctx context.Context, url string) (storage.Store, error) {
	st, err := storage.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.opens[url]++
	r.mu.Unlock()
	return &closeRecorder{Store: st, url: url, opened: r}, nil
}

func (r *openRecord) counts(url string) (opens, closes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opens[url], r.closed[url]
}

// TestStoreCacheBounded: the service keeps at most DefaultMaxStores
// stores open; the least recently used is closed when another is
// opened, but never while an operation (here a download) still uses it;
// it is closed when that operation ends.
func TestStoreCacheBounded(t *testing.T) {
	rec := &openRecord{opens: map[string]int{}, closed: map[string]int{}}
	svc := plugin.NewService(rec.open, nil)
	ctx := t.Context()
	dir := t.TempDir()
	url := func(i int) string { return "file://" + filepath.Join(dir, fmt.Sprint("store", i)) }

	// A backup in store 0, and a download of it left open.
	if _, err := svc.Upload(ctx, url(0), "kept.zip", zipReader(t)); err != nil {
		t.Fatal(err)
	}
	dl, err := svc.Open(ctx, url(0), "kept.zip", 0, -1)
	if err != nil {
		t.Fatal(err)
	}

	// Enough other stores to evict store 0 (the least recently used).
	for i := 1; i <= plugin.DefaultMaxStores; i++ {
		if _, err := svc.List(ctx, url(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, closes := rec.counts(url(0)); closes != 0 {
		t.Fatalf("store 0 closed while its download is open")
	}
	if _, err := io.Copy(io.Discard, dl); err != nil {
		t.Fatalf("read the download after its store was evicted: %v", err)
	}
	if err := dl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, closes := rec.counts(url(0)); closes != 1 {
		t.Fatalf("evicted store 0 closed %d times after its download ended, want 1", closes)
	}

	// One more store evicts store 1, unused: closed at once.
	if _, err := svc.List(ctx, url(plugin.DefaultMaxStores+1)); err != nil {
		t.Fatal(err)
	}
	if _, closes := rec.counts(url(1)); closes != 1 {
		t.Fatalf("evicted unused store 1 closed %d times, want 1", closes)
	}
	// Store 0 opens again when used again; its backup is still there.
	if _, err := svc.Stat(ctx, url(0), "kept.zip"); err != nil {
		t.Fatal(err)
	}
	if opens, _ := rec.counts(url(0)); opens != 2 {
		t.Fatalf("store 0 opened %d times, want 2", opens)
	}

	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	open := 0
	for i := 0; i <= plugin.DefaultMaxStores+1; i++ {
		opens, closes := rec.counts(url(i))
		open += opens - closes
	}
	if open != 0 {
		t.Fatalf("%d stores left open after Close", open)
	}
}

// zipReader is a small valid zip with a data.db entry.
func zipReader(t *testing.T) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("data.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("not really a database")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}
