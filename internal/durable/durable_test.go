package durable

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSyncDirCallsFsync proves that SyncDir and SyncDirIn reach fsync(2):
// procfs refuses it with EINVAL, so the error can only come from the call.
func TestSyncDirCallsFsync(t *testing.T) {
	if err := SyncDir("/proc/self"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SyncDir(/proc/self) = %v, want EINVAL from fsync", err)
	}
	proc, err := os.OpenRoot("/proc")
	if err != nil {
		t.Skip(err)
	}
	defer proc.Close()
	if err := SyncDirIn(proc, "self"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("SyncDirIn(/proc, self) = %v, want EINVAL from fsync", err)
	}

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Error(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, d := range []string{".", "sub"} {
		if err := SyncDirIn(root, d); err != nil {
			t.Errorf("SyncDirIn(%q): %v", d, err)
		}
	}
	if err := SyncDirIn(root, "../"+filepath.Base(dir)); err == nil {
		t.Error("SyncDirIn opened a directory outside its root")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, data := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(path, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left beside the file: %v", entries)
	}
}

// TestWriteFileAtomicFailureLeavesNothing makes the rename fail (the
// target is a non-empty directory): the temp file is removed.
func TestWriteFileAtomicFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("data"), 0o600); err == nil {
		t.Fatal("renaming over a non-empty directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp file left behind: %v", entries)
	}
}

// TestStartWriteback calls the hint on a file and on a closed one: it
// never fails nor panics, and leaves the contents alone.
func TestStartWriteback(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<16)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	StartWriteback(f, 0, int64(len(data)))
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	StartWriteback(f, 0, int64(len(data)))
}
