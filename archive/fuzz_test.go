package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/pocketbackup/pocketbackup/archive/internal/isal"
)

// FuzzCheck feeds arbitrary bytes to Check and, when it accepts them, to
// Extract with small limits: neither may panic, both may only fail with
// ErrInvalid, Extract may create nothing outside its destination, and a
// successful Extract writes exactly the bytes Check declared, reports the
// same summary and extracts no rollback journal.
// Seeds live in testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	f.Add(buildZip(f, file("data.db", "db"), file("data.db-journal", "journal"), file("data.db-wal", "wal")))
	limits := Limits{MaxEntries: 32, MaxTotalBytes: 1 << 20, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, err := Check(bytes.NewReader(data), int64(len(data)), limits)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check rejected without ErrInvalid: %v", err)
			}
			return
		}
		if sum.Entries > limits.MaxEntries || sum.TotalBytes > limits.MaxTotalBytes || sum.TotalBytes < 0 {
			t.Fatalf("Check accepted beyond its limits: %+v", sum)
		}

		parent, dest := stagingDir(t)
		extracted, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), dest, limits, nil)
		assertContained(t, parent)
		if err != nil {
			// Data that fails after the check (bad CRC, lying sizes,
			// truncated entries) must still be reported as invalid.
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Extract failed without ErrInvalid: %v", err)
			}
			return
		}
		var files int
		var written int64
		walkErr := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if RollbackJournal(filepath.ToSlash(p)) {
				t.Fatalf("Extract wrote rollback journal %s", p)
			}
			files++
			written += info.Size()
			return nil
		})
		if walkErr != nil {
			t.Fatal(walkErr)
		}
		if !reflect.DeepEqual(extracted, sum) {
			t.Fatalf("Extract reported %+v, Check %+v", extracted, sum)
		}
		if written != sum.TotalBytes || files > sum.Entries {
			t.Fatalf("Extract wrote %d files, %d bytes; Check declared %d entries, %d bytes", files, written, sum.Entries, sum.TotalBytes)
		}
	})
}

// FuzzPieceInflaters feeds the same piece of a deflate stream to both
// segment checks of the parallel inflater. Whenever igzip's says the piece
// stands on its own, klauspost's must agree and inflate the same bytes,
// unless the piece is not valid deflate at all: igzip is lenient with some
// malformed Huffman tables that zlib and Go reject (seen with this fuzzer).
// That leniency gives an archive's author nothing a valid stream would not
// (the CRC-32 is checked either way); a piece of a valid stream wrongly
// judged to stand alone, on the other hand, would fail a good restore.
func FuzzPieceInflaters(f *testing.F) {
	fast, err := isal.NewInflater()
	if err != nil {
		if os.Getenv("PB_REQUIRE_ISAL") == "1" {
			f.Fatal(err)
		}
		f.Skip("libisal.so.2 not on this machine")
	}
	defer fast.Close()
	for _, e := range []Engine{EngineAuto, EngineGo} {
		d := newChunkDeflater(e.codec())
		text := []byte(strings.Repeat("a piece of text that repeats; ", 300))
		for _, last := range []bool{false, true} {
			p, err := d.deflate(nil, text, last)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p, last)
			f.Add(p[:len(p)/2], last)
		}
		d.close()
	}
	f.Fuzz(func(t *testing.T, in []byte, last bool) {
		if len(in) == 0 {
			return
		}
		a := &segment{in: in, last: last, buf: &segBuf{}}
		inflateSegment(a, isalPieceInflater{f: fast})
		if !a.ok {
			return
		}
		b := &segment{in: in, last: last, buf: &segBuf{}}
		inflateSegment(b, goPieceInflater{})
		if !b.ok {
			_, err := io.Copy(io.Discard, kflate.NewReader(bytes.NewReader(in)))
			var corrupt kflate.CorruptInputError
			if errors.As(err, &corrupt) {
				return // not deflate: igzip's leniency, see above
			}
		}
		if !b.ok || !bytes.Equal(a.out, b.out) || a.crc != b.crc {
			t.Fatalf("igzip accepted a piece (%d bytes out) that klauspost judged ok=%v with %d bytes out", len(a.out), b.ok, len(b.out))
		}
	})
}
