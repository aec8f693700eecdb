package archive

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"sync"
	"testing"
)

var (
	bigTextOnce sync.Once
	bigTextZ    []byte
	bigText     []byte
)

// bigTextZip is a zip written by Write holding "data.db", text compressing
// to more than parallelMinCompressed, and "z". It is made once: callers
// must not modify it.
func bigTextZip(t *testing.T) ([]byte, []byte) {
	t.Helper()
	bigTextOnce.Do(func() {
		bigTextZ, bigText = writeBigText(t, WriteOptions{})
	})
	if bigTextZ == nil {
		t.Fatal("no archive")
	}
	return bigTextZ, bigText
}

// writeBigText writes bigTextZip's archive with opts.
func writeBigText(t *testing.T, opts WriteOptions) ([]byte, []byte) {
	t.Helper()
	root := t.TempDir()
	text := textBytes(t, 14<<20+4321, 31)
	writeTree(t, root, map[string]string{"data.db": string(text), "z": "after"})
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, Source{Root: root}, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), text
}

// inflateEntry runs inflateParallel on the first entry of z with 3
// workers and returns what it wrote, its CRC-32 and error, and whether it
// went sequential.
func inflateEntry(t *testing.T, z []byte, e Engine) ([]byte, uint32, error, bool) {
	t.Helper()
	src := &sourceReader{r: bytes.NewReader(z), size: int64(len(z))}
	zr, err := openZip(src, int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	f := zr.File[0]
	if f.Method != zip.Deflate || f.CompressedSize64 < parallelMinCompressed {
		t.Fatalf("entry %s: method %d, %d bytes compressed: not for the parallel path", f.Name, f.Method, f.CompressedSize64)
	}
	x := &extractor{src: src, prog: &progress{}, workers: 3, codec: e.codec()}
	x.failed.Store(math.MaxInt64)
	var out bytes.Buffer
	n, crc, err := x.inflateParallel(context.Background(), f, 0, &out, 3)
	if n != int64(out.Len()) {
		t.Errorf("inflateParallel reported %d bytes, wrote %d", n, out.Len())
	}
	return out.Bytes(), crc, err, x.sequentialFrom.Load() > 0
}

// TestInflateParallelOwnStream: the streams Write makes, with either
// deflate engine, are inflated in parallel without a sequential restart.
func TestInflateParallelOwnStream(t *testing.T) {
	forEachEngine(t, func(t *testing.T, opts WriteOptions) {
		z, text := bigTextZip(t)
		if opts.Engine == EngineGo {
			z, text = writeBigText(t, opts)
		}
		forEachInflater(t, func(t *testing.T, e Engine) { testInflateParallelOwnStream(t, z, text, e) })
	})
}

// forEachInflater runs test with the pieces of a large entry inflated by
// klauspost (EngineGo) and by igzip, with forEachEngine's rules.
func forEachInflater(t *testing.T, test func(t *testing.T, e Engine)) {
	forEachEngine(t, func(t *testing.T, opts WriteOptions) { test(t, opts.Engine) })
}

func testInflateParallelOwnStream(t *testing.T, z, text []byte, e Engine) {
	got, crc, err, seq := inflateEntry(t, z, e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, text) || crc != crc32.ChecksumIEEE(text) {
		t.Errorf("inflated %d bytes (crc %08x), want the %d archived", len(got), crc, len(text))
	}
	if seq {
		t.Error("a stream of Write went sequential: its segments failed the check")
	}
}

// flateZip stores body as "data.db" deflated by compress/flate at level,
// with a sync flush (shared history) every flushEvery bytes if non-zero.
func flateZip(t *testing.T, body []byte, level, flushEvery int) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, level)
	if err != nil {
		t.Fatal(err)
	}
	for rest := body; len(rest) > 0; {
		n := len(rest)
		if flushEvery > 0 {
			n = min(n, flushEvery)
		}
		if _, err := fw.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
		if flushEvery > 0 {
			if err := fw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buildZip(t, zipEntry{name: "data.db", raw: true, body: comp.Bytes(), rawHeader: zip.FileHeader{
		Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(body),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(len(body)),
	}})
}

// TestInflateParallelForeignStreams inflates streams no segment of which
// may be inflated on its own: one with no sync flush, and one with sync
// flushes but history shared across them. Both must come out right,
// sequentially.
func TestInflateParallelForeignStreams(t *testing.T) {
	text := textBytes(t, 14<<20, 32)
	for _, tc := range []struct {
		name       string
		flushEvery int
	}{
		{"no flush", 0},
		{"flushes with shared history", 200 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := flateZip(t, text, flate.BestSpeed, tc.flushEvery)
			forEachInflater(t, func(t *testing.T, e Engine) {
				got, crc, err, seq := inflateEntry(t, z, e)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, text) || crc != crc32.ChecksumIEEE(text) {
					t.Errorf("inflated %d bytes (crc %08x), want %d", len(got), crc, len(text))
				}
				if !seq {
					t.Error("stream inflated in parallel although its segments depend on each other")
				}
			})
		})
	}
}

// TestExtractLargeEntryLies patches the large entry of an archive of Write
// and checks that the parallel path rejects each lie.
func TestExtractLargeEntryLies(t *testing.T) {
	z, text := bigTextZip(t)
	n := uint32(len(text))
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	dataOff, err := zr.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(z)
	for i := range 64 { // garbage in the middle of the compressed data
		corrupt[dataOff+int64(zr.File[0].CompressedSize64/2)+int64(i)] ^= 0x5a
	}
	tests := []struct {
		name string
		zip  []byte
		want string
	}{
		{"claims fewer bytes", patchCentral(t, z, 0, cdUncompressed, n-1000), "more data than declared"},
		{"claims more bytes", patchCentral(t, z, 0, cdUncompressed, n+1000), "declared"},
		{"wrong CRC", patchCentral(t, z, 0, cdCRC, 0xdeadbeef), "CRC-32"},
		{"corrupt data", corrupt, "entry \"data.db\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dest := stagingDir(t)
			_, err := Extract(context.Background(), bytes.NewReader(tt.zip), int64(len(tt.zip)), dest, Limits{}, nil)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Extract: err = %v, want ErrInvalid saying %q", err, tt.want)
			}
			assertContained(t, parent)
			if got := readTree(t, dest); len(got["data.db"]) > len(text) {
				t.Errorf("data.db holds %d bytes, more than the %d declared", len(got["data.db"]), len(text))
			}
		})
	}
}

// TestExtractLargeEntryCancelled cancels while the large entry is being
// inflated in parallel.
func TestExtractLargeEntryCancelled(t *testing.T) {
	z, text := bigTextZip(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, dest := stagingDir(t)
	var calls int
	_, err := Extract(ctx, bytes.NewReader(z), int64(len(z)), dest, Limits{}, func(done, total int64) {
		if calls++; done >= 3<<20 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Extract: err = %v, want context.Canceled", err)
	}
	if got := readTree(t, dest); len(got["data.db"]) >= len(text) {
		t.Errorf("Extract did not stop: data.db holds %d bytes", len(got["data.db"]))
	}
}

// TestAppendHistory checks the window kept for a sequential restart.
func TestAppendHistory(t *testing.T) {
	var h, all []byte
	for i, n := range []int{10, historySize - 5, 3, historySize + 7, 1} {
		b := bytes.Repeat([]byte{byte('a' + i)}, n)
		h = appendHistory(h, b)
		all = append(all, b...)
		want := all[max(0, len(all)-historySize):]
		if !bytes.Equal(h, want) {
			t.Fatalf("after %d appends: history of %d bytes, want the last %d", i+1, len(h), len(want))
		}
	}
}
