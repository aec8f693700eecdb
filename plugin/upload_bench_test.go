package plugin_test

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// BenchmarkUpload measures the plugin's Upload of a ~300 MiB archive into
// file:// storage, in process: receive, digest, check and commit. The
// archive is read from the page cache, so the figure is the plugin's own
// rate, not the network's. Figures: bench/NOTES.md.
func BenchmarkUpload(b *testing.B) {
	src := benchArchive(b, 300<<20)
	fi, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	svc := plugin.NewService(storage.Open, nil)
	defer svc.Close()
	storageURL := "file://" + filepath.Join(b.TempDir(), "backups")
	ctx := context.Background()
	b.SetBytes(fi.Size())
	i := 0
	for b.Loop() {
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		key := fmt.Sprintf("up-%d.zip", i)
		i++
		_, err = svc.Upload(ctx, storageURL, key, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := svc.Delete(ctx, storageURL, key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// benchArchive writes a zip of about size bytes shaped like a backup: a
// large deflated data.db of text-like pages and many small files, some
// stored, some deflated, with 60% random bytes.
func benchArchive(b *testing.B, size int64) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.zip")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	fill := func(p []byte) {
		for i := range p {
			if i%5 < 3 {
				p[i] = byte(rng.Uint32())
			} else {
				p[i] = 'a' + byte(i%26)
			}
		}
	}
	put := func(name string, n int64, method uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			b.Fatal(err)
		}
		for n > 0 {
			k := min(n, int64(len(buf)))
			fill(buf[:k])
			if _, err := w.Write(buf[:k]); err != nil {
				b.Fatal(err)
			}
			n -= k
		}
	}
	put("data.db", size/2, zip.Deflate)
	for i := 0; bw.Size() >= 0; i++ {
		if err := zw.Flush(); err != nil {
			b.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			b.Fatal(err)
		}
		if fi.Size()+int64(bw.Buffered()) >= size {
			break
		}
		method := zip.Deflate
		if i%3 == 0 {
			method = zip.Store
		}
		put(fmt.Sprintf("storage/c/r%04d/f%d.bin", i/10, i), 200<<10+int64(i%7)<<10, method)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}
