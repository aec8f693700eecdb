// Package plugintest is the conformance suite for shared.Backups: every
// implementation (the plugin service in-process, the same through the gRPC
// glue, a real plugin subprocess) must pass it over every storage.
package plugintest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbackup/pocketbackup/shared"
)

// Target is one implementation under test with the storage URL it uses.
type Target struct {
	Backups    shared.Backups
	StorageURL string
}

// Run runs every conformance test; newTarget returns a fresh, empty store.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"EmptyList", testEmptyList},
		{"CreateListStatOpen", testCreate},
		{"CreateExisting", testCreateExisting},
		{"CreateCancelledLeavesNothing", testCreateCancelled},
		{"CreateBadDataDir", testCreateBadDataDir},
		{"RangeOpen", testRangeOpen},
		{"UploadRoundTrip", testUploadRoundTrip},
		{"UploadLarge", testUploadLarge},
		{"UploadRefused", testUploadRefused},
		{"UploadExisting", testUploadExisting},
		{"DeleteAndMissing", testDelete},
		{"Pins", testPins},
		{"InvalidKeys", testInvalidKeys},
		{"InspectAndExtract", testInspectExtract},
		{"InspectInvalid", testInspectInvalid},
		{"ExtractSkipsRollbackJournals", testExtractSkipsJournals},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newTarget(t)) })
	}
}

// DataDir makes a small pb_data-shaped tree and returns its path.
func DataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"data.db":                   "live database (replaced by the snapshot)",
		"data.db-wal":               "wal",
		"auxiliary.db":              "aux",
		"storage/abc/file1.txt":     strings.Repeat("hello ", 1000),
		"storage/abc/thumbs/t.jpg":  "jpeg-ish",
		"backups/old.zip":           "must be excluded",
		".pb_temp_to_delete/x.tmp":  "must be excluded",
		"storage/empty.txt":         "",
		"storage/nested/a/b/c/d.md": "deep",
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// createRequest archives DataDir with a snapshot standing in for data.db.
func createRequest(t *testing.T, tg Target, key string) shared.CreateRequest {
	t.Helper()
	dir := DataDir(t)
	snap := filepath.Join(t.TempDir(), "data.db")
	if err := os.WriteFile(snap, []byte("snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	return shared.CreateRequest{
		StorageURL: tg.StorageURL,
		Key:        key,
		DataDir:    dir,
		Replace:    map[string]string{"data.db": snap},
		Exclude:    []string{"backups", ".pb_temp_to_delete"},
	}
}

func testEmptyList(t *testing.T, tg Target) {
	list, err := tg.Backups.List(context.Background(), tg.StorageURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("List = %v, want empty", list)
	}
}

func testCreate(t *testing.T, tg Target) {
	ctx := context.Background()
	var last shared.Progress
	info, err := tg.Backups.Create(ctx, createRequest(t, tg, "b1.zip"), func(p shared.Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "b1.zip" || info.Size <= 0 {
		t.Fatalf("Create = %+v", info)
	}
	if last.Total <= 0 || last.Done != last.Total {
		t.Errorf("last progress = %+v, want done == total > 0", last)
	}
	list, err := tg.Backups.List(ctx, tg.StorageURL)
	if err != nil || len(list) != 1 || list[0].Key != "b1.zip" || list[0].Size != info.Size {
		t.Fatalf("List = %v, %v", list, err)
	}
	st, err := tg.Backups.Stat(ctx, tg.StorageURL, "b1.zip")
	if err != nil || st.Size != info.Size || st.Modified.IsZero() {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	files := readZip(t, download(t, tg, "b1.zip", 0, -1))
	want := map[string]string{
		"data.db":                   "snapshot",
		"auxiliary.db":              "aux",
		"storage/abc/file1.txt":     strings.Repeat("hello ", 1000),
		"storage/abc/thumbs/t.jpg":  "jpeg-ish",
		"storage/empty.txt":         "",
		"storage/nested/a/b/c/d.md": "deep",
	}
	if len(files) != len(want) {
		t.Errorf("archive has %d files %v, want %d", len(files), keys(files), len(want))
	}
	for name, content := range want {
		if got, ok := files[name]; !ok || got != content {
			t.Errorf("archive %s = %q (present %v), want %q", name, trim(got), ok, trim(content))
		}
	}
}

func testCreateExisting(t *testing.T, tg Target) {
	ctx := context.Background()
	if _, err := tg.Backups.Create(ctx, createRequest(t, tg, "same.zip"), nil); err != nil {
		t.Fatal(err)
	}
	before := download(t, tg, "same.zip", 0, -1)
	_, err := tg.Backups.Create(ctx, createRequest(t, tg, "same.zip"), nil)
	if !errors.Is(err, shared.ErrExists) {
		t.Fatalf("second Create err = %v, want ErrExists", err)
	}
	if after := download(t, tg, "same.zip", 0, -1); !bytes.Equal(before, after) {
		t.Fatal("existing backup changed")
	}
}

func testCreateCancelled(t *testing.T, tg Target) {
	req := createRequest(t, tg, "cancelled.zip")
	// Enough data that the archive cannot be done before the cancel.
	big := filepath.Join(req.DataDir, "storage", "big.bin")
	writeRandom(t, big, 8<<20)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := tg.Backups.Create(ctx, req, func(p shared.Progress) {
		if p.Done > 0 {
			cancel()
		}
	})
	cancel()
	if err == nil {
		t.Fatal("Create with a cancelled context succeeded")
	}
	assertEmpty(t, tg)
}

func testCreateBadDataDir(t *testing.T, tg Target) {
	req := createRequest(t, tg, "bad.zip")
	req.DataDir = filepath.Join(t.TempDir(), "missing")
	if _, err := tg.Backups.Create(context.Background(), req, nil); err == nil {
		t.Fatal("Create of a missing data dir succeeded")
	}
	assertEmpty(t, tg)
}

func testRangeOpen(t *testing.T, tg Target) {
	ctx := context.Background()
	payload := makeZip(t, map[string]string{"data.db": strings.Repeat("x", 5000)})
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "r.zip", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	n := int64(len(payload))
	cases := []struct{ off, length int64 }{{0, -1}, {0, 10}, {100, 1000}, {n - 5, -1}, {n - 5, 100}, {n, -1}}
	for _, c := range cases {
		got := download(t, tg, "r.zip", c.off, c.length)
		end := n
		if c.length >= 0 {
			end = min(n, c.off+c.length)
		}
		if !bytes.Equal(got, payload[c.off:end]) {
			t.Errorf("Open(%d, %d) returned %d bytes, want %d", c.off, c.length, len(got), end-c.off)
		}
	}
	if _, err := tg.Backups.Open(ctx, tg.StorageURL, "r.zip", n+1, -1); err == nil {
		t.Error("Open beyond the end succeeded")
	}
}

func testUploadRoundTrip(t *testing.T, tg Target) {
	ctx := context.Background()
	payload := makeZip(t, map[string]string{"data.db": "db", "storage/f": "file"})
	info, err := tg.Backups.Upload(ctx, tg.StorageURL, "up.zip", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(payload)) {
		t.Fatalf("Upload size = %d, want %d", info.Size, len(payload))
	}
	if got := download(t, tg, "up.zip", 0, -1); !bytes.Equal(got, payload) {
		t.Fatal("download differs from upload")
	}
}

func testUploadLarge(t *testing.T, tg Target) {
	ctx := context.Background()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "storage/random.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.New(rand.NewSource(7)), 20<<20+12345); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(buf.Bytes())
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "large.zip", bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(download(t, tg, "large.zip", 0, -1)); got != want {
		t.Fatal("large download differs from upload")
	}
}

func testUploadRefused(t *testing.T, tg Target) {
	ctx := context.Background()
	good := makeZip(t, map[string]string{"data.db": "db"})
	bodies := map[string][]byte{
		"not-a-zip.zip": []byte("this is not a zip archive at all"),
		"truncated.zip": good[:len(good)/2],
		"empty.zip":     nil,
		"traversal.zip": makeZip(t, map[string]string{"../evil": "x"}),
		"absolute.zip":  makeZip(t, map[string]string{"/etc/evil": "x"}),
	}
	for key, body := range bodies {
		_, err := tg.Backups.Upload(ctx, tg.StorageURL, key, bytes.NewReader(body))
		if !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("Upload %s err = %v, want ErrInvalid", key, err)
		}
	}
	assertEmpty(t, tg)
}

func testUploadExisting(t *testing.T, tg Target) {
	ctx := context.Background()
	first := makeZip(t, map[string]string{"data.db": "first"})
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "dup.zip", bytes.NewReader(first)); err != nil {
		t.Fatal(err)
	}
	second := makeZip(t, map[string]string{"data.db": "second"})
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "dup.zip", bytes.NewReader(second)); !errors.Is(err, shared.ErrExists) {
		t.Fatalf("second Upload err = %v, want ErrExists", err)
	}
	if got := download(t, tg, "dup.zip", 0, -1); !bytes.Equal(got, first) {
		t.Fatal("existing backup was overwritten")
	}
}

func testDelete(t *testing.T, tg Target) {
	ctx := context.Background()
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "d.zip", bytes.NewReader(makeZip(t, map[string]string{"data.db": "x"}))); err != nil {
		t.Fatal(err)
	}
	if err := tg.Backups.Delete(ctx, tg.StorageURL, "d.zip"); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Backups.Stat(ctx, tg.StorageURL, "d.zip"); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("Stat after Delete err = %v, want ErrNotFound", err)
	}
	if err := tg.Backups.Delete(ctx, tg.StorageURL, "d.zip"); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("Delete missing err = %v, want ErrNotFound", err)
	}
	if _, err := tg.Backups.Open(ctx, tg.StorageURL, "missing.zip", 0, -1); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("Open missing err = %v, want ErrNotFound", err)
	}
	assertEmpty(t, tg)
}

func testInvalidKeys(t *testing.T, tg Target) {
	ctx := context.Background()
	for _, key := range []string{"../x.zip", "a/b.zip", ".hidden.zip", "x.zip.attrs", "a\\b.zip", "", "a\x00b.zip", strings.Repeat("k", 300)} {
		if _, err := tg.Backups.Stat(ctx, tg.StorageURL, key); !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("Stat(%q) err = %v, want ErrInvalid", key, err)
		}
		if err := tg.Backups.Delete(ctx, tg.StorageURL, key); !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("Delete(%q) err = %v, want ErrInvalid", key, err)
		}
		if _, err := tg.Backups.Upload(ctx, tg.StorageURL, key, bytes.NewReader(makeZip(t, map[string]string{"data.db": "x"}))); !errors.Is(err, shared.ErrInvalid) {
			t.Errorf("Upload(%q) err = %v, want ErrInvalid", key, err)
		}
	}
	assertEmpty(t, tg)
}

func testInspectExtract(t *testing.T, tg Target) {
	ctx := context.Background()
	contents := map[string]string{"data.db": "db", "auxiliary.db": "aux", "storage/a/b.txt": "bee"}
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "i.zip", bytes.NewReader(makeZip(t, contents))); err != nil {
		t.Fatal(err)
	}
	sum, err := tg.Backups.Inspect(ctx, tg.StorageURL, "i.zip")
	if err != nil || !sum.HasDataDB || sum.Entries != 3 || sum.TotalBytes != 8 {
		t.Fatalf("Inspect = %+v, %v", sum, err)
	}
	dest := filepath.Join(t.TempDir(), "staging")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	var last shared.Progress
	if err := tg.Backups.Extract(ctx, shared.ExtractRequest{StorageURL: tg.StorageURL, Key: "i.zip", DestDir: dest}, func(p shared.Progress) { last = p }); err != nil {
		t.Fatal(err)
	}
	for name, want := range contents {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("extracted %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if last.Done != 8 {
		t.Errorf("last progress = %+v, want 8 bytes done", last)
	}
	leftovers, _ := os.ReadDir(filepath.Dir(dest))
	if len(leftovers) != 1 {
		t.Errorf("beside the staging dir: %d entries, want only the staging dir", len(leftovers))
	}
}

// testExtractSkipsJournals: rollback journals in an archive are never
// extracted (SQLite would play a crafted one into the restored database at
// its first open), WAL files are, and Inspect counts what Extract writes.
func testExtractSkipsJournals(t *testing.T, tg Target) {
	ctx := context.Background()
	contents := map[string]string{"data.db": "db", "data.db-wal": "wal", "storage/a/b.txt": "bee"}
	archived := map[string]string{"data.db-journal": "hostile journal", "auxiliary.db-journal": "another"}
	for name, body := range contents {
		archived[name] = body
	}
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "j.zip", bytes.NewReader(makeZip(t, archived))); err != nil {
		t.Fatal(err)
	}
	sum, err := tg.Backups.Inspect(ctx, tg.StorageURL, "j.zip")
	if err != nil || !sum.HasDataDB || sum.Entries != 3 || sum.TotalBytes != 8 {
		t.Fatalf("Inspect = %+v, %v; want the 3 entries (8 bytes) Extract writes", sum, err)
	}
	dest := filepath.Join(t.TempDir(), "staging")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	var last shared.Progress
	if err := tg.Backups.Extract(ctx, shared.ExtractRequest{StorageURL: tg.StorageURL, Key: "j.zip", DestDir: dest}, func(p shared.Progress) { last = p }); err != nil {
		t.Fatal(err)
	}
	for name, want := range contents {
		if got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(name))); err != nil || string(got) != want {
			t.Errorf("extracted %s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"data.db-journal", "auxiliary.db-journal"} {
		if _, err := os.Lstat(filepath.Join(dest, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was extracted (err %v)", name, err)
		}
	}
	if last.Done != sum.TotalBytes || last.Total != sum.TotalBytes {
		t.Errorf("last progress = %+v, want %d of %d as Inspect said", last, sum.TotalBytes, sum.TotalBytes)
	}
}

func testInspectInvalid(t *testing.T, tg Target) {
	ctx := context.Background()
	if _, err := tg.Backups.Inspect(ctx, tg.StorageURL, "missing.zip"); !errors.Is(err, shared.ErrNotFound) {
		t.Errorf("Inspect missing err = %v, want ErrNotFound", err)
	}
	if _, err := tg.Backups.Upload(ctx, tg.StorageURL, "nodb.zip", bytes.NewReader(makeZip(t, map[string]string{"x.txt": "x"}))); err != nil {
		t.Fatal(err)
	}
	sum, err := tg.Backups.Inspect(ctx, tg.StorageURL, "nodb.zip")
	if err != nil || sum.HasDataDB {
		t.Errorf("Inspect nodb = %+v, %v; want no data.db", sum, err)
	}
}

// download reads a range of key through Open.
func download(t *testing.T, tg Target, key string, off, length int64) []byte {
	t.Helper()
	dl, err := tg.Backups.Open(context.Background(), tg.StorageURL, key, off, length)
	if err != nil {
		t.Fatalf("Open(%s, %d, %d): %v", key, off, length, err)
	}
	defer dl.Close()
	data, err := io.ReadAll(dl)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if int64(len(data)) != dl.Length {
		t.Fatalf("read %d bytes, header said %d", len(data), dl.Length)
	}
	return data
}

func assertEmpty(t *testing.T, tg Target) {
	t.Helper()
	list, err := tg.Backups.List(context.Background(), tg.StorageURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("storage holds %v, want nothing", list)
	}
}

// makeZip builds a zip the way PocketBase does: files only, deflate.
func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readZip(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("backup is not a zip: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			t.Errorf("archive has a directory entry %q", f.Name)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		out[f.Name] = string(b)
	}
	return out
}

func writeRandom(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.New(rand.NewSource(1)), n); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
