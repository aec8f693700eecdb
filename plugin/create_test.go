package plugin_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

var errDiskFull = errors.New("disk full")

// failingStore is a real store whose writers fail once they were given
// more than limit bytes, as a full disk or a broken connection does.
type failingStore struct {
	storage.Store
	limit int
}

func (s failingStore) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	w, err := s.Store.NewWriter(ctx, key)
	if err != nil {
		return nil, err
	}
	return &failingWriter{Writer: w, left: s.limit}, nil
}

type failingWriter struct {
	storage.Writer
	left int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errDiskFull
	}
	w.left -= len(p)
	return w.Writer.Write(p)
}

// TestCreateStorageWriteFails: a storage write failing in the middle of a
// create (while the archive is still being written, and on its last
// bytes) fails the create with that error, plain and encrypted, and
// leaves nothing: no backup listed, no file in the folder.
func TestCreateStorageWriteFails(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	big := make([]byte, 6<<20) // random: stored about as large
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(dir, "data.db"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, limit := range map[string]int{"midway": 2 << 20, "end": len(big)} {
		for _, encrypted := range []bool{false, true} {
			name := name
			if encrypted {
				name += "/encrypted"
			}
			t.Run(name, func(t *testing.T) {
				folder := filepath.Join(t.TempDir(), "backups")
				open := func(ctx context.Context, url string) (storage.Store, error) {
					st, err := storage.Open(ctx, url)
					if err != nil {
						return nil, err
					}
					return failingStore{Store: st, limit: limit}, nil
				}
				svc := plugin.NewService(open, nil)
				t.Cleanup(func() { _ = svc.Close() })
				if encrypted {
					svc.SetKeys(newKeys(t))
				}
				url := "file://" + folder
				ctx := context.Background()
				_, err := svc.Create(ctx, shared.CreateRequest{StorageURL: url, Key: "b.zip", DataDir: dir}, nil)
				if !errors.Is(err, errDiskFull) {
					t.Fatalf("Create = %v, want the storage's error", err)
				}
				if list, err := svc.List(ctx, url); err != nil || len(list) != 0 {
					t.Fatalf("List = %+v, %v; want nothing", list, err)
				}
				left, _ := os.ReadDir(folder)
				for _, e := range left {
					t.Errorf("left in the folder: %s", e.Name())
				}
			})
		}
	}
}
