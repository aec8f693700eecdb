package storage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pocketbackup/pocketbackup/shared"
)

// TestLocalNoSpace writes through /dev/full, which fails every write with
// ENOSPC, and checks that Write and Commit report ErrNoSpace and that the
// temp file is removed.
func TestLocalNoSpace(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	s, err := Open(t.Context(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.NewWriter(t.Context(), "full.zip")
	if err != nil {
		t.Fatal(err)
	}
	lw := w.(*localWriter)
	tmp := lw.f
	lw.f = osFile{full} // the temp file stays in the directory, to be removed
	defer tmp.Close()

	_, err = w.Write(make([]byte, 4096))
	if !errors.Is(err, shared.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write: %v, want ErrNoSpace and ENOSPC", err)
	}
	err = w.Commit()
	if !errors.Is(err, shared.ErrNoSpace) {
		t.Errorf("Commit: %v, want ErrNoSpace", err)
	}
	objs, err := s.List(t.Context())
	if err != nil || len(objs) != 0 {
		t.Errorf("List = %v, %v; want nothing", objs, err)
	}
	if _, err := os.Lstat(filepath.Join(s.(*localStore).dir, lw.tmp)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file after failed Commit: %v, want it removed", err)
	}
}

// TestLinkNoReplace: the fallback where renameat2's RENAME_NOREPLACE is not
// supported refuses an existing target, leaving it untouched, and moves a
// file to a free name.
func TestLinkNoReplace(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for name, data := range map[string]string{".tmp-a": "new", "taken.zip": "old"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := linkNoReplace(osRoot{root}, ".tmp-a", "taken.zip"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("onto an existing name: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "taken.zip")); string(got) != "old" {
		t.Errorf("taken.zip = %q after the refused move, want %q", got, "old")
	}
	if err := linkNoReplace(osRoot{root}, ".tmp-a", "free.zip"); err != nil {
		t.Fatalf("onto a free name: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "free.zip")); string(got) != "new" {
		t.Errorf("free.zip = %q, want %q", got, "new")
	}
	if _, err := os.Lstat(filepath.Join(dir, ".tmp-a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temp name is still there: %v", err)
	}
}
