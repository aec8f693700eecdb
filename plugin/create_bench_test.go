package plugin_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// BenchmarkCreate measures the plugin's Create of a ~300 MiB data
// directory into file:// storage in process (archive, digest, storage
// writes, commit), plain and with encryption at rest. The data directory
// is read from the page cache; `cpu-s/op` is the process's CPU per create.
// Figures: bench/NOTES.md.
func BenchmarkCreate(b *testing.B) {
	dir := benchDataDir(b, 300<<20)
	size := dirSize(b, dir)
	// The data set's write-back must not run beside the creates.
	syncAll()
	b.Run("plain", func(b *testing.B) {
		svc := plugin.NewService(storage.Open, nil)
		defer svc.Close()
		benchCreate(b, svc, dir, size)
	})
	b.Run("encrypted", func(b *testing.B) {
		text, err := atrest.GenerateKeys()
		if err != nil {
			b.Fatal(err)
		}
		keys, err := atrest.ParseKeys(text)
		if err != nil {
			b.Fatal(err)
		}
		svc := plugin.NewService(storage.Open, nil)
		svc.SetKeys(keys)
		defer svc.Close()
		benchCreate(b, svc, dir, size)
	})
}

// benchCreate creates backups of dir into a new file:// store through svc,
// deleting each outside the timer.
func benchCreate(b *testing.B, svc *plugin.Service, dir string, size int64) {
	storageURL := "file://" + filepath.Join(b.TempDir(), "backups")
	ctx := context.Background()
	b.SetBytes(size)
	i := 0
	var cpu time.Duration
	for b.Loop() {
		start := cpuTime()
		key := fmt.Sprintf("create-%d.zip", i)
		i++
		if _, err := svc.Create(ctx, shared.CreateRequest{StorageURL: storageURL, Key: key, DataDir: dir}, nil); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		if err := svc.Delete(ctx, storageURL, key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// benchDataDir writes a data directory of about size bytes shaped like a
// pb_data: a data.db of half the size, text-like pages that deflate to
// about a third, and files of 100-300 KiB under storage/ with 60% random
// bytes.
func benchDataDir(b *testing.B, size int64) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "pb_data")
	rng := rand.New(rand.NewPCG(5, 6))
	words := []string{"lorem ", "ipsum ", "dolor ", "sit ", "amet ", "record ", "user_", "2026-12-06 ", "true ", "null "}
	page := func(p []byte) {
		for i := 0; i < len(p); {
			w := words[rng.IntN(len(words))]
			if rng.IntN(4) == 0 {
				w = fmt.Sprintf("%d ", rng.Uint32())
			}
			i += copy(p[i:], w)
		}
	}
	partlyRandom := func(p []byte) {
		for i := range p {
			if i%5 < 3 {
				p[i] = byte(rng.Uint32())
			} else {
				p[i] = 'a' + byte(i%26)
			}
		}
	}
	write := func(name string, n int64, fill func([]byte)) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for n > 0 {
			k := min(n, int64(len(buf)))
			fill(buf[:k])
			if _, err := f.Write(buf[:k]); err != nil {
				b.Fatal(err)
			}
			n -= k
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	write("data.db", size/2, page)
	for i, left := 0, size-size/2; left > 0; i++ {
		n := min(left, int64(100<<10+rng.IntN(200<<10)))
		write(fmt.Sprintf("storage/c%d/r%04d/f%d.bin", i%5, i/10, i), n, partlyRandom)
		left -= n
	}
	return dir
}

// dirSize is the bytes of the regular files under dir.
func dirSize(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
