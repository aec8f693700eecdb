package storage

import (
	"errors"
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
	lw.f = full // the temp file stays in the directory, to be removed
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
