//lint:file-ignore SA1019 compares the legacy header fields newHeader sets with what archive/zip sets.

package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/archive/internal/isal"
)

func TestCRC32Combine(t *testing.T) {
	data := pseudoRandom(3*chunkSize+12345, 11)
	for _, cut := range []int{0, 1, 7, 4096, chunkSize, 2*chunkSize + 3, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b)))
		if want := crc32.ChecksumIEEE(data); got != want {
			t.Errorf("cut at %d: combined %08x, want %08x", cut, got, want)
		}
	}
	// Many pieces folded in order, as the writer does.
	var crc uint32
	for off := 0; off < len(data); off += 100_003 {
		piece := data[off:min(off+100_003, len(data))]
		crc = crc32Combine(crc, crc32.ChecksumIEEE(piece), int64(len(piece)))
	}
	if want := crc32.ChecksumIEEE(data); crc != want {
		t.Errorf("folded: %08x, want %08x", crc, want)
	}
}

// TestNewHeaderMatchesCreateHeader checks that the headers Write gives
// CreateRaw carry what CreateHeader would have set.
func TestNewHeaderMatchesCreateHeader(t *testing.T) {
	zone := time.FixedZone("UTC+2", 2*3600)
	for _, tc := range []struct {
		name  string
		mtime time.Time
		perm  os.FileMode
	}{
		{"data.db", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), 0o644},
		{"storage/pbc_1/ümlaut.png", time.Date(2031, 12, 31, 23, 59, 58, 0, zone), 0o600},
		{"a~b", time.Date(1999, 1, 1, 0, 0, 1, 0, time.Local), 0o444},
	} {
		want := &zip.FileHeader{Name: tc.name, Method: zip.Deflate, Modified: tc.mtime}
		want.SetMode(tc.perm)
		if _, err := zip.NewWriter(io.Discard).CreateHeader(want); err != nil {
			t.Fatal(err)
		}
		got := newHeader(tc.name, tc.perm, tc.mtime, zip.Deflate)
		if got.Flags != want.Flags&^flagDescriptor || got.CreatorVersion != want.CreatorVersion ||
			got.ReaderVersion != want.ReaderVersion || got.ModifiedDate != want.ModifiedDate ||
			got.ModifiedTime != want.ModifiedTime || !bytes.Equal(got.Extra, want.Extra) ||
			got.ExternalAttrs != want.ExternalAttrs {
			t.Errorf("%s: newHeader = %+v, CreateHeader set %+v", tc.name, got, want)
		}
	}
}

var (
	textOnce sync.Once
	textBase []byte
)

// textBytes returns n bytes of compressible text rows, at most 24 MiB,
// which the caller must not modify: a part of one text made once, starting
// at a place chosen by seed.
func textBytes(t testing.TB, n int64, seed uint64) []byte {
	t.Helper()
	const baseSize = 24 << 20
	if n > baseSize {
		t.Fatalf("textBytes(%d): at most %d", n, baseSize)
	}
	textOnce.Do(func() {
		dir, err := os.MkdirTemp("", "archive-text-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "text")
		writeTextRows(t, p, baseSize, rand.New(rand.NewPCG(1, 2)))
		if textBase, err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	})
	if textBase == nil {
		t.Fatal("no text")
	}
	off := int64(seed*7919) % (baseSize - n + 1)
	return textBase[off : off+n : off+n]
}

// TestWriteParallelRoundTrip archives files of many chunks, stored and
// deflated, with several workers, and reads them back with archive/zip,
// unzip and Extract, once with each deflate engine.
func TestWriteParallelRoundTrip(t *testing.T) {
	forEachEngine(t, testWriteParallelRoundTrip)
}

// forEachEngine runs test with klauspost ("go") and with igzip ("isa-l").
// Without libisal.so.2 the isa-l run is skipped, unless PB_REQUIRE_ISAL=1
// (make test sets it and installs the library): then it fails.
func forEachEngine(t *testing.T, test func(t *testing.T, opts WriteOptions)) {
	t.Run("go", func(t *testing.T) { test(t, WriteOptions{Engine: EngineGo}) })
	t.Run("isa-l", func(t *testing.T) {
		if EngineAuto.Name() != "isa-l" {
			if os.Getenv("PB_REQUIRE_ISAL") == "1" {
				t.Fatalf("ISA-L not in use (libisal.so.2 loadable: %v) and PB_REQUIRE_ISAL=1", isal.Available())
			}
			t.Skip("libisal.so.2 not on this machine (make test installs it)")
		}
		test(t, WriteOptions{})
	})
}

func testWriteParallelRoundTrip(t *testing.T, opts WriteOptions) {
	root := t.TempDir()
	files := map[string]string{
		"data.db":                 string(textBytes(t, 20<<20+333, 1)), // 21 chunks of text
		"storage/a/photo.jpg":     string(pseudoRandom(3*chunkSize+5, 2)),
		"storage/a/exact.bin":     string(pseudoRandom(2*chunkSize, 3)), // ends on a chunk boundary
		"storage/b/notes.json":    string(textBytes(t, 200<<10, 4)),
		"storage/b/small.png":     string(pseudoRandom(10_000, 5)),
		"storage/c/empty":         "",
		"storage/c/text-chunk":    string(textBytes(t, chunkSize, 6)), // one full chunk of text
		"storage/d/mixed":         string(pseudoRandom(100, 7)) + string(textBytes(t, 3<<20, 8)),
		"storage/d/random-header": string(pseudoRandom(sampleSize, 9)) + strings.Repeat("compressible ", 100_000),
	}
	writeTree(t, root, files)
	// Method expected from the content of each file's first 64 KiB.
	wantStored := map[string]bool{"storage/a/photo.jpg": true, "storage/a/exact.bin": true,
		"storage/b/small.png": true, "storage/c/empty": true, "storage/d/random-header": true}

	var buf bytes.Buffer
	var calls [][2]int64
	opts.Workers = 4
	opts.Progress = func(done, total int64) { calls = append(calls, [2]int64{done, total}) }
	stats, err := Write(context.Background(), &buf, Source{Root: root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range files {
		total += int64(len(c))
	}
	if stats != (Stats{Files: len(files), Bytes: total}) {
		t.Errorf("Stats = %+v, want %d files, %d bytes", stats, len(files), total)
	}
	checkProgress(t, calls, total)

	z := buf.Bytes()
	if len(z) > int(total)*7/10 {
		t.Errorf("archive of %d bytes for %d of content: text not compressed?", len(z), total)
	}
	got, zfiles := readZip(t, z)
	for name, want := range files {
		if got[name] != want {
			t.Errorf("%s: read back %d bytes differing from the %d archived", name, len(got[name]), len(want))
		}
	}
	for _, f := range zfiles {
		wantMethod := uint16(zip.Deflate)
		if wantStored[f.Name] {
			wantMethod = zip.Store
		}
		if f.Method != wantMethod {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, wantMethod)
		}
		if multi := f.UncompressedSize64 >= chunkSize; multi != (f.Flags&flagDescriptor != 0) {
			t.Errorf("%s: %d bytes, flags %#x: want a data descriptor exactly for files of several chunks", f.Name, f.UncompressedSize64, f.Flags)
		}
	}
	if sum, err := Check(bytes.NewReader(z), int64(len(z)), Limits{}); err != nil || sum.TotalBytes != total {
		t.Errorf("Check = %+v, %v", sum, err)
	}

	parent, dest := stagingDir(t)
	if _, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	assertContained(t, parent)
	ext := readTree(t, dest)
	for name, want := range files {
		if ext[name] != want {
			t.Errorf("%s: extracted %d bytes differing from the %d archived", name, len(ext[name]), len(want))
		}
	}

	unzip, err := exec.LookPath("unzip")
	if err != nil {
		t.Log("unzip not installed: skipping the unzip -tq check")
		return
	}
	path := filepath.Join(t.TempDir(), "backup.zip")
	if err := os.WriteFile(path, z, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unzip, "-tq", path).CombinedOutput(); err != nil {
		t.Errorf("unzip -tq: %v\n%s", err, out)
	}
}

// TestWriteBoundedMemory archives a 256 MiB file and checks that memory
// allocated stays at the pipeline's buffers, whatever the file's size.
func TestWriteBoundedMemory(t *testing.T) {
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	// Sparse, with some text at the start and in the middle so that the
	// file is deflated and some chunks need real output buffers.
	text := textBytes(t, 3<<20, 12)
	for _, off := range []int64{0, size / 2} {
		if _, err := f.WriteAt(text, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	const workers = 2
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stats, err := Write(context.Background(), io.Discard, Source{Root: root}, WriteOptions{Workers: workers})
	runtime.ReadMemStats(&after)
	if err != nil || stats.Bytes != size {
		t.Fatalf("Write = %+v, %v", stats, err)
	}
	// 2*workers+2 buffers of a chunk and its deflated form, and a
	// deflater per worker (about 1 MiB each).
	const limit = (2*workers+2)*2*chunkSize + workers*(2<<20) + 4<<20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
		t.Errorf("Write allocated %d MiB for a %d MiB file, want at most %d MiB", alloc>>20, size>>20, limit>>20)
	}
	t.Logf("allocated %.1f MiB", float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
}

// cancelAfter is a writer that cancels a context once n bytes reached it.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
	got    int
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.got += len(p)
	if w.got >= w.n {
		w.cancel()
	}
	return len(p), nil
}

// failAfter is a writer that fails once n bytes reached it.
type failAfter struct {
	n   int
	got int
}

var errDiskFull = errors.New("disk full")

func (w *failAfter) Write(p []byte) (int, error) {
	if w.got+len(p) > w.n {
		return 0, errDiskFull
	}
	w.got += len(p)
	return len(p), nil
}

// TestWriteStopsMidFile cancels, and fails the output, in the middle of a
// file of many chunks: Write returns promptly, with no goroutine left
// behind and no central directory written.
func TestWriteStopsMidFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"data.db": string(textBytes(t, 12<<20, 13)),
		"z":       "after",
	})
	baseline := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelAfter{n: 2 << 20, cancel: cancel}
	stats, err := Write(ctx, w, Source{Root: root}, WriteOptions{Workers: 3})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write cancelled mid-file: err = %v, want context.Canceled", err)
	}
	if stats.Files != 0 || w.got > 6<<20 {
		t.Errorf("Write went on after the cancel: %+v, %d bytes out", stats, w.got)
	}

	var out bytes.Buffer
	fw := &failAfter{n: 1 << 20}
	_, err = Write(context.Background(), io.MultiWriter(fw, &out), Source{Root: root}, WriteOptions{Workers: 3})
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Write to a failing writer: err = %v, want %v", err, errDiskFull)
	}
	if _, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len())); err == nil {
		t.Error("a failed Write left a readable archive")
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines left running after Write returned (%d before)", n-baseline, baseline)
	}
}

// TestWriteZip64ManyEntries runs the zip64 path in every test run: more
// entries than the 16-bit counts of a zip's end record hold, so the
// archive needs its ZIP64 end records, without TestWriteZip64's 4 GiB.
// The entries all archive one small file (through Source.Replace) so that
// the test creates two files, not 65,546.
func TestWriteZip64ManyEntries(t *testing.T) {
	const n = 1<<16 + 10
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "data.db"), []byte("the database"), 0o644); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(t.TempDir(), "one.txt")
	if err := os.WriteFile(one, []byte("the same content"), 0o644); err != nil {
		t.Fatal(err)
	}
	replace := make(map[string]string, n-1)
	for i := range n - 1 {
		replace[fmt.Sprintf("storage/%02d/%05d.txt", i/1000, i)] = one
	}
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, Source{Root: root, Replace: replace}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	z := buf.Bytes()

	// The classic end record says "see ZIP64" (0xFFFF entries) and a ZIP64
	// end record locator sits right before it.
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if eocd < 20 {
		t.Fatal("no end of central directory record")
	}
	if count := binary.LittleEndian.Uint16(z[eocd+10:]); count != 0xFFFF {
		t.Fatalf("end record counts %d entries, want 0xFFFF (see ZIP64)", count)
	}
	if !bytes.Equal(z[eocd-20:eocd-16], []byte("PK\x06\x07")) {
		t.Fatal("no ZIP64 end of central directory locator before the end record")
	}

	// Go's reader finds every entry through the ZIP64 record.
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != n {
		t.Fatalf("archive/zip reads %d entries, want %d", len(zr.File), n)
	}
	for _, f := range []*zip.File{zr.File[0], zr.File[n/2], zr.File[n-1]} {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if want := map[bool]string{true: "the database", false: "the same content"}[f.Name == "data.db"]; err != nil || string(data) != want {
			t.Fatalf("%s: %q, %v; want %q", f.Name, data, err, want)
		}
	}
	// So does the checker the plugin runs on every upload and restore.
	if sum, err := Check(bytes.NewReader(z), int64(len(z)), Limits{}); err != nil || sum.Entries != n {
		t.Fatalf("Check = %+v, %v; want %d entries", sum, err, n)
	}

	unzip, err := exec.LookPath("unzip")
	if err != nil {
		t.Skip("unzip not installed (make tools installs it): the unzip -t check did not run")
	}
	path := filepath.Join(t.TempDir(), "many.zip")
	if err := os.WriteFile(path, z, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unzip, "-tq", path).CombinedOutput(); err != nil {
		t.Fatalf("unzip -tq: %v\n%s", err, out)
	}
}

// TestWriteZip64 archives a file of more than 4 GiB. It takes tens of
// seconds: set ARCHIVE_ZIP64_TEST=1 to run it.
func TestWriteZip64(t *testing.T) {
	if os.Getenv("ARCHIVE_ZIP64_TEST") == "" {
		t.Skip("set ARCHIVE_ZIP64_TEST=1 to archive a 4 GiB file")
	}
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 4<<30 + 12345
	if _, err := f.WriteAt([]byte("the end"), size-7); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(t.TempDir(), "big.zip")
	out, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), out, Source{Root: root}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Open(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	info, _ := zf.Stat()
	if _, err := Check(zf, info.Size(), Limits{MaxRatio: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if unzip, err := exec.LookPath("unzip"); err == nil {
		if out, err := exec.Command(unzip, "-tq", zpath).CombinedOutput(); err != nil {
			t.Errorf("unzip -tq: %v\n%s", err, out)
		}
	}
	_, dest := stagingDir(t)
	if _, err := Extract(context.Background(), zf, info.Size(), dest, Limits{MaxRatio: 1 << 20}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.Stat(filepath.Join(dest, "data.db"))
	if err != nil || got.Size() != size {
		t.Fatalf("extracted %v, %v; want %d bytes", got, err, int64(size))
	}
}
