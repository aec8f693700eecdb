package filestamp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func matches(t *testing.T, dir string, s Stamp) bool {
	t.Helper()
	ok, err := Matches(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestStampFollowsTheBytes(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "data.db"), "checked bytes")
	s, err := Take(dir, "data.db")
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != 13 || len(s.SHA256) != 64 || s.Ino == 0 {
		t.Fatalf("stamp %+v", s)
	}
	if !matches(t, dir, s) {
		t.Fatal("an untouched file does not match its stamp")
	}

	// A rename (the restore's swap) keeps the identity.
	moved := t.TempDir()
	if err := os.Rename(filepath.Join(dir, "data.db"), filepath.Join(moved, "data.db")); err != nil {
		t.Fatal(err)
	}
	if !matches(t, moved, s) {
		t.Fatal("a renamed file does not match its stamp")
	}

	// A copy is another inode with the same bytes: the digest decides.
	copied := t.TempDir()
	write(t, filepath.Join(copied, "data.db"), "checked bytes")
	if !matches(t, copied, s) {
		t.Fatal("a copy with the same bytes does not match")
	}

	// The same size, other bytes, written in place: the mtime moves.
	path := filepath.Join(moved, "data.db")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := Take(moved, "data.db")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if matches(t, moved, before) {
		t.Fatal("a file written in place still matches")
	}
	// Another inode, same size, other bytes.
	write(t, filepath.Join(copied, "data.db"), "checked bytez")
	if matches(t, copied, s) {
		t.Fatal("a copy with other bytes matches")
	}
	// Gone.
	if matches(t, t.TempDir(), s) {
		t.Fatal("a missing file matches")
	}
}

func TestTakeRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "storage"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Take(dir, "storage"); err == nil {
		t.Fatal("stamped a folder")
	}
	if _, err := Take(dir, "nothing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
