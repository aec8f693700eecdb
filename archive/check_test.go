package archive

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/zipsig"
)

// hostileCase is an archive that Check and Extract must both reject.
type hostileCase struct {
	name   string
	want   string                                   // in the error text
	zip    func(t *testing.T, parent string) []byte // parent: the staging dir's parent, for absolute names
	limits Limits
}

func hostileCases() []hostileCase {
	fixed := func(entries ...zipEntry) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte { return buildZip(t, entries...) }
	}
	return []hostileCase{
		{name: "dot-dot", want: "unsafe name", zip: fixed(file("../x", "escaped"))},
		{name: "absolute", want: "unsafe name", zip: func(t *testing.T, parent string) []byte {
			return buildZip(t, file(filepath.ToSlash(filepath.Join(parent, "abs")), "escaped"))
		}},
		{name: "inner dot-dot", want: "unsafe name", zip: fixed(file("a/../../x", "escaped"))},
		{name: "backslash", want: "unsafe name", zip: fixed(file(`..\x`, "escaped"))},
		{name: "NUL", want: "unsafe name", zip: fixed(file("a\x00b", "x"))},
		{name: "empty element", want: "unsafe name", zip: fixed(file("a//b", "x"))},
		{name: "empty name", want: "unsafe name", zip: fixed(file("", "x"))},
		{name: "dot", want: "unsafe name", zip: fixed(file("./a", "x"))},
		{name: "control char", want: "unsafe name", zip: fixed(file("a\nb", "x"))},
		{name: "symlink", want: "not a regular file", zip: func(t *testing.T, parent string) []byte {
			return buildZip(t, zipEntry{name: "link", body: []byte(parent), mode: fs.ModeSymlink | 0o777}, file("link/x", "escaped"))
		}},
		{name: "lone symlink", want: "not a regular file", zip: fixed(zipEntry{name: "link", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777})},
		{name: "named pipe", want: "not a regular file", zip: fixed(zipEntry{name: "fifo", mode: fs.ModeNamedPipe | 0o644})},
		{name: "device", want: "not a regular file", zip: fixed(zipEntry{name: "dev", mode: fs.ModeDevice | 0o644})},
		{name: "directory mode without slash", want: "not a regular file", zip: fixed(zipEntry{name: "d", mode: fs.ModeDir | 0o755})},
		{name: "directory with content", want: "directory with content", zip: fixed(zipEntry{name: "d/", raw: true, // the writer refuses the data itself
			rawHeader: zip.FileHeader{Method: zip.Store, CompressedSize64: 5, UncompressedSize64: 5}})},
		{name: "duplicate", want: "duplicate name", zip: fixed(file("a", "1"), file("a", "2"))},
		{name: "file and directory", want: "duplicate name", zip: fixed(file("a", "1"), zipEntry{name: "a/"})},
		{name: "directory and file", want: "duplicate name", zip: fixed(zipEntry{name: "a/"}, file("a", "1"))},
		{name: "entry under file", want: "lies under file", zip: fixed(file("a", "1"), file("a/b", "2"))},
		{name: "file over entry", want: "entries below it", zip: fixed(file("a/b/c", "1"), file("a/b", "2"))},
		{name: "unsupported method", want: "unsupported method", zip: fixed(zipEntry{name: "x", raw: true, body: []byte("BZh9"),
			rawHeader: zip.FileHeader{Method: 12, CompressedSize64: 4, UncompressedSize64: 4}})},
		{name: "encrypted", want: "encrypted", zip: fixed(zipEntry{name: "x", raw: true, body: []byte("0123456789ab"),
			rawHeader: zip.FileHeader{Method: zip.Store, Flags: 0x1, CompressedSize64: 12, UncompressedSize64: 12}})},
		{name: "stored sizes differ", want: "stored entry", zip: fixed(zipEntry{name: "x", raw: true, body: []byte("abc"),
			rawHeader: zip.FileHeader{Method: zip.Store, CompressedSize64: 3, UncompressedSize64: 300}})},
		{name: "overlapping entries", want: "add up to more", zip: func(t *testing.T, _ string) []byte {
			z := buildZip(t,
				zipEntry{name: "a", raw: true, body: make([]byte, 100), rawHeader: zip.FileHeader{Method: zip.Store, CompressedSize64: 100, UncompressedSize64: 100}},
				zipEntry{name: "b", raw: true, body: make([]byte, 100), rawHeader: zip.FileHeader{Method: zip.Store, CompressedSize64: 100, UncompressedSize64: 100}})
			claim := uint32(len(z) * 6 / 10) // each fits in the archive, both do not
			for i := range 2 {
				z = patchCentral(t, z, i, cdCompressed, claim)
				z = patchCentral(t, z, i, cdUncompressed, claim)
			}
			return z
		}},
		{name: "ratio bomb", want: "ratio", zip: func(t *testing.T, _ string) []byte { return ratioBomb(t) }},
		{name: "total size", want: "total size", zip: fixed(file("a", strings.Repeat("x", 600)), file("b", strings.Repeat("y", 600))),
			limits: Limits{MaxTotalBytes: 1000}},
		{name: "too many entries", want: "entries, more than", zip: fixed(file("a", ""), file("b", ""), file("c", ""), file("d", "")),
			limits: Limits{MaxEntries: 3}},
		{name: "truncated", want: "not a valid zip", zip: func(t *testing.T, _ string) []byte {
			z := buildZip(t, file("data.db", strings.Repeat("page", 1000)), file("b", "bee"))
			return z[:len(z)/2]
		}},
		{name: "not a zip", want: "not a valid zip", zip: fixed()}, // replaced below
		{name: "empty input", want: "empty input", zip: func(*testing.T, string) []byte { return nil }},
	}
}

var ratioBombZip []byte

// ratioBomb is 50 MiB of zeros deflated (about 1028:1 at level 6).
func ratioBomb(t *testing.T) []byte {
	if ratioBombZip == nil {
		ratioBombZip = buildZip(t, zipEntry{name: "zeros", body: make([]byte, 50<<20)})
	}
	return ratioBombZip
}

func hostileZip(t *testing.T, tc hostileCase, parent string) []byte {
	if tc.name == "not a zip" {
		return []byte("SQLite format 3\x00" + strings.Repeat("\x00", 4080))
	}
	return tc.zip(t, parent)
}

func TestCheckRejectsHostile(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			z := hostileZip(t, tc, t.TempDir())
			_, err := Check(bytes.NewReader(z), int64(len(z)), tc.limits)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check: err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestExtractRejectsHostile(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			parent, dest := stagingDir(t)
			z := hostileZip(t, tc, parent)
			_, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, tc.limits, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Extract: err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Extract: err = %v, want it to say %q", err, tc.want)
			}
			assertContained(t, parent)
			// All of these fail the check, before anything is written.
			if got := readTree(t, dest); len(got) != 0 {
				t.Errorf("Extract wrote %d files for a rejected archive", len(got))
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	z := buildZip(t,
		file("data.db", "sqlite"),
		zipEntry{name: "storage/"},
		file("storage/a/b.txt", "b"),
		file("README", "upper"),
		file("readme", "lower"), // names are case-exact
		zipEntry{name: "bin", raw: true, body: []byte("stored"),
			rawHeader: zip.FileHeader{Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte("stored")), CompressedSize64: 6, UncompressedSize64: 6}},
		zipEntry{name: "zeros", body: make([]byte, 1<<20-1)}, // under the ratio floor
	)
	sum, err := Check(bytes.NewReader(z), int64(len(z)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Entries: 7, TotalBytes: 6 + 1 + 5 + 5 + 6 + 1<<20 - 1, HasDataDB: true}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("Summary = %+v, want %+v", sum, want)
	}

	empty := buildZip(t)
	sum, err = Check(bytes.NewReader(empty), int64(len(empty)), Limits{})
	if err != nil || !reflect.DeepEqual(sum, Summary{}) {
		t.Errorf("empty archive: Summary = %+v, err = %v", sum, err)
	}
	if !zipsig.Starts(empty) {
		t.Errorf("zipsig.Starts(empty archive %q) = false", empty)
	}

	noDB := buildZip(t, zipEntry{name: "data.db/"}, file("x/data.db", "not at the root"))
	if sum, err := Check(bytes.NewReader(noDB), int64(len(noDB)), Limits{}); err != nil || sum.HasDataDB {
		t.Errorf("no data.db file at the root: Summary = %+v, err = %v", sum, err)
	}
}

func TestDefaultLimits(t *testing.T) {
	want := Limits{MaxEntries: 1_000_000, MaxTotalBytes: 1 << 40, MaxRatio: 1000}
	if got := DefaultLimits(); got != want {
		t.Errorf("DefaultLimits() = %+v, want %+v", got, want)
	}
	if got := (Limits{MaxEntries: 5}).withDefaults(); got != (Limits{MaxEntries: 5, MaxTotalBytes: 1 << 40, MaxRatio: 1000}) {
		t.Errorf("withDefaults kept/filled wrongly: %+v", got)
	}
}

// pocketBaseZip is shaped like a PocketBase backup: files only, deflate
// at level 1, data.db at the root, an empty data.db-wal.
func pocketBaseZip(t *testing.T) ([]byte, map[string]string) {
	files := map[string]string{
		"data.db":                              "SQLite format 3\x00" + string(pseudoRandom(200_000, 1)),
		"data.db-wal":                          "",
		"data.db-shm":                          "",
		"auxiliary.db":                         "SQLite format 3\x00aux",
		"storage/pbc_123/rec456/photo_abc.png": string(pseudoRandom(3000, 2)),
		"storage/pbc_123/rec456/thumbs_photo/100x0": strings.Repeat("thumb", 500),
		"storage/pbc_789/rec000/notes.txt":          "hello\n",
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, name := range []string{"auxiliary.db", "data.db", "data.db-shm", "data.db-wal",
		"storage/pbc_123/rec456/photo_abc.png", "storage/pbc_123/rec456/thumbs_photo/100x0", "storage/pbc_789/rec000/notes.txt"} {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), files
}

func TestPocketBaseShapedZip(t *testing.T) {
	z, files := pocketBaseZip(t)
	sum, err := Check(bytes.NewReader(z), int64(len(z)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range files {
		total += int64(len(c))
	}
	if want := (Summary{Entries: len(files), TotalBytes: total, HasDataDB: true}); !reflect.DeepEqual(sum, want) {
		t.Errorf("Summary = %+v, want %+v", sum, want)
	}

	parent, dest := stagingDir(t)
	if _, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	assertContained(t, parent)
	got := readTree(t, dest)
	if len(got) != len(files) {
		t.Errorf("extracted %d files, want %d", len(got), len(files))
	}
	for name, want := range files {
		if got[name] != want {
			t.Errorf("%s: extracted %d bytes differing from the %d archived", name, len(got[name]), len(want))
		}
	}
	info, err := os.Stat(filepath.Join(dest, "storage", "pbc_123"))
	if err != nil || !info.IsDir() || info.Mode().Perm()&0o700 != 0o700 {
		t.Errorf("storage/pbc_123: %v, %v; want a directory its owner can use", info, err)
	}
	info, err = os.Stat(filepath.Join(dest, "data.db"))
	if err != nil || info.Mode().Perm()&^0o644 != 0 || info.Mode().Perm()&0o600 != 0o600 {
		t.Errorf("data.db mode: %v, %v; want 0644 under umask", info, err)
	}
}

// failingReaderAt fails every read past off.
type failingReaderAt struct {
	r   io.ReaderAt
	off int64
}

var errStorage = errors.New("storage unreachable")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errStorage
	}
	return f.r.ReadAt(p, off)
}

func TestSourceErrorsAreNotInvalid(t *testing.T) {
	z, _ := pocketBaseZip(t)
	_, err := Check(failingReaderAt{bytes.NewReader(z), 0}, int64(len(z)), Limits{})
	if !errors.Is(err, errStorage) || errors.Is(err, ErrInvalid) {
		t.Errorf("Check on failing storage: err = %v, want the storage error, not ErrInvalid", err)
	}

	// The central directory reads fine; the entries' data does not.
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	cdOff := int64(z[eocd+16]) | int64(z[eocd+17])<<8 | int64(z[eocd+18])<<16 | int64(z[eocd+19])<<24
	src := &onlyAbove{r: bytes.NewReader(z), min: cdOff}
	_, dest := stagingDir(t)
	_, err = Extract(context.Background(), src, int64(len(z)), dest, Limits{}, nil)
	if !errors.Is(err, errStorage) || errors.Is(err, ErrInvalid) {
		t.Errorf("Extract on failing storage: err = %v, want the storage error, not ErrInvalid", err)
	}
}

// onlyAbove fails reads that start below min.
type onlyAbove struct {
	r   io.ReaderAt
	min int64
}

func (o *onlyAbove) ReadAt(p []byte, off int64) (int, error) {
	if off < o.min {
		return 0, errStorage
	}
	return o.r.ReadAt(p, off)
}
