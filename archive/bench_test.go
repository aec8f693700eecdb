package archive

import (
	"archive/zip"
	"cmp"
	"compress/flate"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The benchmarks run on a generated pb_data of ARCHIVE_BENCH_MB MiB
// (default 64), made once per test binary and removed by TestMain:
//
//	ARCHIVE_BENCH_MB=512 go test -run '^$' -bench . -benchtime 3x ./archive/
//
// Write benchmarks write the zip to a file (no fsync); Extract benchmarks
// extract the zip written by Write, fsyncing as Extract does. Throughput is
// of uncompressed content bytes.

// benchFixture is the generated data set and its archive.
type benchFixture struct {
	dir     string // holds src/ and backup.zip
	src     string // the pb_data root
	total   int64  // content bytes under src
	zipPath string
	zipSize int64
}

var (
	benchOnce sync.Once
	benchFix  *benchFixture
	benchErr  string
	benchTemp string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTemp != "" {
		os.RemoveAll(benchTemp)
	}
	os.Exit(code)
}

// benchData returns the data set of the benchmarks, making it on first use.
func benchData(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() {
		mb := int64(64)
		if s := os.Getenv("ARCHIVE_BENCH_MB"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n <= 0 {
				benchErr = "ARCHIVE_BENCH_MB: want a positive number of MiB, got " + s
				return
			}
			mb = n
		}
		dir, err := os.MkdirTemp("", "archive-bench-")
		if err != nil {
			benchErr = err.Error()
			return
		}
		benchTemp = dir
		fx := &benchFixture{dir: dir, src: filepath.Join(dir, "src"), zipPath: filepath.Join(dir, "backup.zip")}
		if err := os.Mkdir(fx.src, 0o755); err != nil {
			benchErr = err.Error()
			return
		}
		fx.total = makePBData(b, fx.src, mb<<20, 42)
		f, err := os.Create(fx.zipPath)
		if err != nil {
			benchErr = err.Error()
			return
		}
		_, err = Write(context.Background(), f, Source{Root: fx.src}, WriteOptions{})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			benchErr = err.Error()
			return
		}
		info, err := os.Stat(fx.zipPath)
		if err != nil {
			benchErr = err.Error()
			return
		}
		fx.zipSize = info.Size()
		benchFix = fx
	})
	if benchFix == nil {
		b.Fatal("bench data: ", cmp.Or(benchErr, "generation failed"))
	}
	return benchFix
}

// benchWrite times write, which archives fx.src into out.
func benchWrite(b *testing.B, write func(out io.Writer, fx *benchFixture) error) {
	fx := benchData(b)
	out := filepath.Join(b.TempDir(), "out.zip")
	b.SetBytes(fx.total)
	cpu := cpuTime()
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		err = write(f, fx)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportCPU(b, cpuTime()-cpu)
	if info, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(info.Size())/float64(fx.total), "zip/content")
	}
}

func BenchmarkWriteOurs(b *testing.B) {
	benchWrite(b, func(out io.Writer, fx *benchFixture) error {
		_, err := Write(context.Background(), out, Source{Root: fx.src}, WriteOptions{})
		return err
	})
}

// BenchmarkWriteStdlibLevel1 is the baseline: archive/zip with
// compress/flate at level 1 on one goroutine, as PocketBase writes.
func BenchmarkWriteStdlibLevel1(b *testing.B) {
	benchWrite(b, func(out io.Writer, fx *benchFixture) error {
		return stdlibWrite(out, fx.src)
	})
}

// stdlibWrite zips the regular files under root with archive/zip at
// deflate level 1.
func stdlibWrite(out io.Writer, root string) error {
	zw := zip.NewWriter(out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// benchExtract times extract, which extracts the archive of fx into the
// empty directory dest.
func benchExtract(b *testing.B, extract func(zf *os.File, size int64, dest string) error) {
	fx := benchData(b)
	zf, err := os.Open(fx.zipPath)
	if err != nil {
		b.Fatal(err)
	}
	defer zf.Close()
	parent := b.TempDir()
	b.SetBytes(fx.total)
	var cpu time.Duration // spent in extract only
	i := 0
	for b.Loop() {
		b.StopTimer()
		dest := filepath.Join(parent, strconv.Itoa(i))
		i++
		if err := os.Mkdir(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime()
		if err := extract(zf, fx.zipSize, dest); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		if err := os.RemoveAll(dest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportCPU(b, cpu)
}

// reportCPU reports cpu, the process CPU time of b.N operations, per
// operation: a figure that still means something when other processes
// compete for the cores, unlike wall-clock MB/s.
func reportCPU(b *testing.B, cpu time.Duration) {
	if cpu > 0 && b.N > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}

func BenchmarkExtractOurs(b *testing.B) {
	benchExtract(b, func(zf *os.File, size int64, dest string) error {
		_, err := Extract(context.Background(), zf, size, dest, Limits{}, nil)
		return err
	})
}

// BenchmarkExtractStdlib is the baseline: archive/zip on one goroutine,
// each file fsynced, then each directory, as Extract does.
func BenchmarkExtractStdlib(b *testing.B) {
	benchExtract(b, stdlibExtract)
}

// stdlibExtract extracts the archive in zf into dest with archive/zip on
// one goroutine, with Extract's durability (file and directory fsyncs) but
// none of its checks.
func stdlibExtract(zf *os.File, size int64, dest string) error {
	zr, err := zip.NewReader(zf, size)
	if err != nil {
		return err
	}
	dirs := map[string]bool{dest: true}
	for _, f := range zr.File {
		p := filepath.Join(dest, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		for d := filepath.Dir(p); !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := stdlibExtractFile(f, p); err != nil {
			return err
		}
	}
	for d := range dirs {
		df, err := os.Open(d)
		if err != nil {
			return err
		}
		err = df.Sync()
		df.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func stdlibExtractFile(f *zip.File, p string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, rc); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}
