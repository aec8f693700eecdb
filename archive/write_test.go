package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/archive/internal/isal"
)

// writeTree creates files (by '/'-separated name) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readZip returns the entries of z by name, failing on anything but a
// deflated or stored regular file with a '/'-separated relative name.
func readZip(t *testing.T, z []byte) (map[string]string, []*zip.File) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatalf("archive/zip cannot read the archive: %v", err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") || f.Mode().IsDir() {
			t.Errorf("directory entry %q", f.Name)
		}
		if strings.Contains(f.Name, `\`) || strings.HasPrefix(f.Name, "/") || !ValidName(f.Name) {
			t.Errorf("bad entry name %q", f.Name)
		}
		if f.Method != zip.Deflate && f.Method != zip.Store {
			t.Errorf("%s: method %d, want deflate or store", f.Name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		rc.Close()
		got[f.Name] = string(b)
	}
	return got, zr.File
}

func TestWriteRoundTrip(t *testing.T) {
	root := t.TempDir()
	big := string(pseudoRandom(3<<20+17, 5))
	writeTree(t, root, map[string]string{
		"data.db":                               "LIVE DATABASE, MAY BE TORN",
		"data.db-wal":                           "wal frames",
		"data.db-shm":                           "shm",
		"auxiliary.db":                          "aux",
		"auxiliary.db-wal":                      "aux wal", // not replaced: kept
		"storage/pbc_1/rec_1/photo.png":         big,
		"storage/pbc_1/rec_1/empty":             "",
		"storage/pbc_2/a/b/c/deep.txt":          "deep",
		"storage/pbc_2/backups/not-top-level":   "kept: only the top-level backups is excluded",
		"backups/pb_backup_20250101.zip":        "old backup",
		"backups/nested/x":                      "old",
		".pb_temp_to_delete/tmp":                "temp",
		".pb_temp_to_delete/dir/tmp2":           "temp",
		"hooks.js.excluded-file-not-dir-marker": "excluded as a file",
	})
	if err := os.Mkdir(filepath.Join(root, "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("data.db", filepath.Join(root, "link-to-db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "storage"), filepath.Join(root, "storage-link")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "auxiliary.db"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	snapshot := filepath.Join(t.TempDir(), "snapshot.db")
	if err := os.WriteFile(snapshot, []byte("CONSISTENT SNAPSHOT"), 0o600); err != nil {
		t.Fatal(err)
	}

	src := Source{
		Root:    root,
		Replace: map[string]string{"data.db": snapshot},
		Exclude: []string{"backups", ".pb_temp_to_delete/", "hooks.js.excluded-file-not-dir-marker"},
	}
	want := map[string]string{
		"data.db":                             "CONSISTENT SNAPSHOT",
		"auxiliary.db":                        "aux",
		"auxiliary.db-wal":                    "aux wal",
		"storage/pbc_1/rec_1/photo.png":       big,
		"storage/pbc_1/rec_1/empty":           "",
		"storage/pbc_2/a/b/c/deep.txt":        "deep",
		"storage/pbc_2/backups/not-top-level": "kept: only the top-level backups is excluded",
	}
	var wantBytes int64
	for _, c := range want {
		wantBytes += int64(len(c))
	}

	var buf bytes.Buffer
	var calls [][2]int64
	stats, err := Write(context.Background(), &buf, src, WriteOptions{Progress: func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if stats != (Stats{Files: len(want), Bytes: wantBytes}) {
		t.Errorf("Stats = %+v, want %d files, %d bytes", stats, len(want), wantBytes)
	}
	checkProgress(t, calls, wantBytes)
	if calls[0][1] != wantBytes {
		t.Errorf("first progress total = %d, want the planned %d", calls[0][1], wantBytes)
	}

	z := buf.Bytes()
	got, files := readZip(t, z)
	for name, content := range want {
		if c, ok := got[name]; !ok || c != content {
			t.Errorf("%s: archived %d bytes (present %v), want %d", name, len(c), ok, len(content))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected entry %q", name)
		}
	}
	for _, f := range files {
		if f.Name == "auxiliary.db" && !f.Modified.Equal(mtime) {
			t.Errorf("auxiliary.db Modified = %v, want %v", f.Modified, mtime)
		}
	}

	sum, err := Check(bytes.NewReader(z), int64(len(z)), Limits{})
	if err != nil || !sum.HasDataDB || sum.Entries != len(want) || sum.TotalBytes != wantBytes {
		t.Errorf("Check = %+v, %v", sum, err)
	}
	parent, dest := stagingDir(t)
	if _, err := Extract(context.Background(), bytes.NewReader(z), int64(len(z)), dest, Limits{}, nil); err != nil {
		t.Fatalf("Extract: %v", err)
	}
	assertContained(t, parent)
	if ext := readTree(t, dest); len(ext) != len(want) {
		t.Errorf("extracted %d files, want %d", len(ext), len(want))
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

func TestWriteEmptyTree(t *testing.T) {
	var buf bytes.Buffer
	var calls [][2]int64
	stats, err := Write(context.Background(), &buf, Source{Root: t.TempDir()}, WriteOptions{Progress: func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	}})
	if err != nil || stats != (Stats{}) {
		t.Fatalf("Write = %+v, %v", stats, err)
	}
	if !slices.Equal(calls, [][2]int64{{0, 0}}) {
		t.Errorf("progress calls = %v, want one [0 0]", calls)
	}
	if sum, err := Check(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{}); err != nil || sum.Entries != 0 {
		t.Errorf("Check = %+v, %v", sum, err)
	}
}

func TestWriteReplacementOfMissingFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"storage/x": "x", "auxiliary.db-wal": "left out"})
	snap := filepath.Join(t.TempDir(), "aux")
	if err := os.WriteFile(snap, []byte("aux snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := Write(context.Background(), &buf, Source{Root: root, Replace: map[string]string{"auxiliary.db": snap}}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readZip(t, buf.Bytes())
	if len(got) != 2 || got["auxiliary.db"] != "aux snapshot" || got["storage/x"] != "x" {
		t.Errorf("entries = %q", got)
	}
}

func TestWriteRejectsBadSource(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"data.db": "db", "dir/file": "f"})
	snap := filepath.Join(t.TempDir(), "snap")
	if err := os.WriteFile(snap, []byte("snap"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  Source
	}{
		{"missing root", Source{Root: filepath.Join(root, "missing")}},
		{"replace outside root", Source{Root: root, Replace: map[string]string{"../x": snap}}},
		{"replace absolute", Source{Root: root, Replace: map[string]string{"/data.db": snap}}},
		{"missing snapshot", Source{Root: root, Replace: map[string]string{"data.db": filepath.Join(root, "nope")}}},
		{"snapshot is a directory", Source{Root: root, Replace: map[string]string{"data.db": root}}},
		{"replace a directory", Source{Root: root, Replace: map[string]string{"dir": snap}}},
		{"replace below a file", Source{Root: root, Replace: map[string]string{"data.db/x": snap}}},
		{"exclude outside root", Source{Root: root, Exclude: []string{"../x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Write(context.Background(), io.Discard, tt.src, WriteOptions{})
			if err == nil {
				t.Fatal("Write succeeded")
			}
			t.Log(err)
		})
	}
}

func TestWriteRejectsUnsafeFileName(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{`back\slash`: "x"})
	_, err := Write(context.Background(), io.Discard, Source{Root: root}, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "back") {
		t.Errorf("Write of a file its archive could not restore: err = %v", err)
	}
}

func TestWriteCancelled(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": string(pseudoRandom(4<<20, 6)), "b": "b"})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, io.Discard, Source{Root: root}, WriteOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled ctx: err = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	stats, err := Write(ctx, &buf, Source{Root: root}, WriteOptions{Progress: func(done, total int64) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write cancelled mid-copy: err = %v, want context.Canceled", err)
	}
	if stats.Files != 0 || buf.Len() >= 4<<20 {
		t.Errorf("Write did not stop mid-copy: %+v, %d bytes out", stats, buf.Len())
	}
	if _, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil {
		t.Error("a cancelled Write left a readable archive")
	}
}

func TestWriteSkipsVanishedFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a": string(pseudoRandom(2<<20, 8)), "b": "gone soon", "c": "c"})
	var buf bytes.Buffer
	var calls [][2]int64
	stats, err := Write(context.Background(), &buf, Source{Root: root}, WriteOptions{Progress: func(done, total int64) {
		if len(calls) == 0 {
			if err := os.Remove(filepath.Join(root, "b")); err != nil {
				t.Error(err)
			}
		}
		calls = append(calls, [2]int64{done, total})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Files != 2 {
		t.Errorf("Stats = %+v, want 2 files", stats)
	}
	got, _ := readZip(t, buf.Bytes())
	if _, ok := got["b"]; ok || len(got) != 2 {
		t.Errorf("entries %q, want a and c", slices.Sorted(maps.Keys(got)))
	}
	checkProgress(t, calls, 2<<20+1)
}

// TestWriteStreams archives a 64 MiB and a 256 MiB file and checks that
// the memory Write allocates is a fixed cost, far below either size, that
// does not grow with the file.
func TestWriteStreams(t *testing.T) {
	allocated := func(size int64) uint64 {
		root := t.TempDir()
		f, err := os.Create(filepath.Join(root, "data.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil { // sparse: cheap to make
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		stats, err := Write(context.Background(), io.Discard, Source{Root: root}, WriteOptions{})
		runtime.ReadMemStats(&after)
		if err != nil || stats.Bytes != size {
			t.Fatalf("Write = %+v, %v", stats, err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(64<<20), allocated(256<<20)
	// The chunk buffers (2*workers+2 of them, about 2 MiB each), the
	// workers' deflaters (under 2 MiB each) and some slack.
	workers := compressWorkers(0, EngineAuto.codec())
	if limit := uint64((2*workers+2)*(chunkSize+isal.Bound(chunkSize)) + workers*(2<<20) + 4<<20); small > limit {
		t.Errorf("Write allocated %d bytes for a 64 MiB file, over %d", small, limit)
	}
	if large > small+4<<20 {
		t.Errorf("Write allocated %d bytes for a 256 MiB file, %d for 64 MiB: it grows with the file", large, small)
	}
}

// TestWriteReplacedRead: replacements are archived first, and ReplacedRead
// comes once all of them are read and before any other file is: a
// replacement changed from then on is archived as it was, a tree file
// changed then is archived as changed.
func TestWriteReplacedRead(t *testing.T) {
	forEachEngine(t, func(t *testing.T, opts WriteOptions) {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"a.txt": "before", "storage/b": "b", "zz.db": "live, left out"})
		snaps := t.TempDir()
		big := bytes.Repeat([]byte("sqlite page "), 3*chunkSize/12+5) // several chunks
		for name, content := range map[string][]byte{"zz.db": big, "aux.db": []byte("aux")} {
			if err := os.WriteFile(filepath.Join(snaps, name), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		calls := 0
		opts.ReplacedRead = func() {
			calls++
			// The archive is done with the replacements: spoil them.
			for _, name := range []string{"zz.db", "aux.db"} {
				if err := os.WriteFile(filepath.Join(snaps, name), []byte("changed"), 0o644); err != nil {
					t.Error(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("after!"), 0o644); err != nil {
				t.Error(err)
			}
		}
		var buf bytes.Buffer
		_, err := Write(context.Background(), &buf, Source{Root: root, Replace: map[string]string{
			"zz.db": filepath.Join(snaps, "zz.db"), "aux.db": filepath.Join(snaps, "aux.db"),
		}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if calls != 1 {
			t.Fatalf("ReplacedRead called %d times, want 1", calls)
		}
		got, files := readZip(t, buf.Bytes())
		var order []string
		for _, f := range files {
			order = append(order, f.Name)
		}
		if want := []string{"aux.db", "zz.db", "a.txt", "storage/b"}; !slices.Equal(order, want) {
			t.Errorf("order = %q, want %q", order, want)
		}
		if got["zz.db"] != string(big) || got["aux.db"] != "aux" {
			t.Errorf("replacements archived after ReplacedRead changed them")
		}
		if got["a.txt"] != "after!" {
			t.Errorf("a.txt = %q: read before ReplacedRead", got["a.txt"])
		}
	})
}

// TestWriteReplacedReadWithout: with no replacement ReplacedRead comes at
// once; when Write fails before reading them, it never comes.
func TestWriteReplacedReadWithout(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "a"})
	calls := 0
	if _, err := Write(context.Background(), io.Discard, Source{Root: root}, WriteOptions{ReplacedRead: func() { calls++ }}); err != nil || calls != 1 {
		t.Fatalf("no replacements: err %v, calls %d, want 1", err, calls)
	}
	calls = 0
	_, err := Write(context.Background(), io.Discard, Source{Root: root, Replace: map[string]string{"data.db": filepath.Join(root, "missing.db")}},
		WriteOptions{ReplacedRead: func() { calls++ }})
	if err == nil || calls != 0 {
		t.Fatalf("missing replacement: err %v, calls %d, want an error and no call", err, calls)
	}
}
