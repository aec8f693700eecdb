package simdisk

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"syscall"
	"testing"
)

func write(t *testing.T, d *Disk, p, data string, sync bool) {
	t.Helper()
	f, err := d.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPowerCutKeepsOnlyDurable: contents last as of their Sync, entries
// once their folder is synced, a rename once both folders are.
func TestPowerCutKeepsOnlyDurable(t *testing.T) {
	d := NewDirs(map[string]string{"/a/old": "old"}, "/b")
	write(t, d, "/a/synced", "data", true)
	write(t, d, "/a/unsynced", "data", false)
	if err := d.SyncDir("/a"); err != nil {
		t.Fatal(err)
	}
	write(t, d, "/a/nodir", "data", true)
	if err := d.Rename("/a/old", "/b/moved"); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncDir("/b"); err != nil {
		t.Fatal(err)
	}
	got := d.PowerCut().Tree("/", nil)
	want := map[string]string{"a/synced": "data", "a/unsynced": "", "a/old": "old"}
	if !maps.Equal(got, want) {
		t.Fatalf("after a cut: %q, want %q", got, want)
	}
	if err := d.SyncDir("/a"); err != nil {
		t.Fatal(err)
	}
	got = d.PowerCut().Tree("/", nil)
	want = map[string]string{"a/synced": "data", "a/unsynced": "", "a/nodir": "data", "b/moved": "old"}
	if !maps.Equal(got, want) {
		t.Fatalf("after both folders synced and a cut: %q, want %q", got, want)
	}
}

// TestPowerCutKeeping: a cut may keep any prefix of the pending changes.
func TestPowerCutKeeping(t *testing.T) {
	d := NewDirs(nil, "/a")
	write(t, d, "/a/x", "x", true)
	if err := d.Link("/a/x", "/a/y"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("/a/x"); err != nil {
		t.Fatal(err)
	}
	if d.Pending() != 3 {
		t.Fatalf("Pending = %d, want 3", d.Pending())
	}
	wants := []map[string]string{{}, {"a/x": "x"}, {"a/x": "x", "a/y": "x"}, {"a/y": "x"}}
	for n, want := range wants {
		if got := d.PowerCutKeeping(n).Tree("/", nil); !maps.Equal(got, want) {
			t.Errorf("keeping %d: %q, want %q", n, got, want)
		}
	}
}

// TestRunCutsAndNoReplace: Run stops at the cut; RENAME_NOREPLACE, link
// and exclusive create refuse an existing name; a lock is exclusive until
// Close or Kill.
func TestRunCutsAndNoReplace(t *testing.T) {
	d := NewDirs(map[string]string{"/a/taken": "old", "/a/src": "new"})
	if !d.Run(1, func() { _ = d.SyncDir("/a"); _ = d.SyncDir("/a"); t.Fatal("ran past the cut") }) {
		t.Fatal("no cut")
	}
	if err := d.RenameNoReplace("/a/src", "/a/taken"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("RenameNoReplace onto a file: %v", err)
	}
	if err := d.Link("/a/src", "/a/taken"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Link onto a file: %v", err)
	}
	if _, err := d.OpenFile("/a/taken", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("exclusive create of a file: %v", err)
	}
	if data, _ := d.ReadFile("/a/taken"); string(data) != "old" {
		t.Errorf("taken = %q", data)
	}
	f1, _ := d.OpenFile("/a/src", os.O_RDWR, 0)
	f2, _ := d.OpenFile("/a/src", os.O_RDWR, 0)
	if err := f1.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := f2.Lock(); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("second lock: %v", err)
	}
	d.Kill()
	if err := f2.Lock(); err != nil {
		t.Errorf("lock after Kill: %v", err)
	}
}
