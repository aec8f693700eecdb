package plugin_test

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// BenchmarkUpload measures the plugin's Upload of a ~300 MiB archive into
// file:// storage (receive, digest, check and commit) in process and
// through the gRPC glue, and the archive check alone. The archive is read
// from the page cache, so the figures are the plugin's own rates, not the
// network's. Figures: bench/NOTES.md.
func BenchmarkUpload(b *testing.B) {
	src := benchArchive(b, 300<<20)
	// The check an upload runs once its bytes are stored, alone.
	b.Run("check", func(b *testing.B) {
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := archive.Check(f, fi.Size(), archive.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("service", func(b *testing.B) {
		svc := plugin.NewService(storage.Open, nil)
		defer svc.Close()
		benchUpload(b, svc, src)
	})
	// Through the gRPC glue over a unix socket, with the server options
	// the plugin serves with, as the host calls it.
	b.Run("grpc", func(b *testing.B) {
		svc := plugin.NewService(storage.Open, nil)
		defer svc.Close()
		sock := filepath.Join(b.TempDir(), "plugin.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		server := grpc.NewServer(shared.ServerOptions(nil)...)
		p := shared.PluginMap(svc)[shared.PluginName].(goplugin.GRPCPlugin)
		if err := p.GRPCServer(nil, server); err != nil {
			b.Fatal(err)
		}
		go server.Serve(ln) //nolint:errcheck // ends with Stop
		defer server.Stop()
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		benchUpload(b, shared.NewGRPCClient(conn), src)
	})
}

// benchUpload uploads the archive src to a new file:// store through bk.
func benchUpload(b *testing.B, bk shared.Backups, src string) {
	fi, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	storageURL := "file://" + filepath.Join(b.TempDir(), "backups")
	ctx := context.Background()
	b.SetBytes(fi.Size())
	i := 0
	var cpu time.Duration // of the process: what a loaded machine cannot hide
	for b.Loop() {
		start := cpuTime()
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		key := fmt.Sprintf("up-%d.zip", i)
		i++
		_, err = bk.Upload(ctx, storageURL, key, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		if err := bk.Delete(ctx, storageURL, key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
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
