package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/plugin/storage/storagetest"
	"github.com/pocketbackup/pocketbackup/shared"
)

func open(t *testing.T, url string) storage.Store {
	t.Helper()
	s, err := storage.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	return s
}

func TestMem(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, "mem://") })
}

func TestFile(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, "file://"+t.TempDir()) })
}

// TestFileGocloudParams: the fileblob parameters people copy are accepted.
func TestFileGocloudParams(t *testing.T) {
	s := open(t, "file://"+t.TempDir()+"?metadata=skip&no_tmp_dir=true&create_dir=true")
	defer s.Close()
	if _, err := s.List(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"backup.zip":             true,
		"pb_backup_20240102.zip": true,
		"a":                      true,
		"a..b":                   true,
		"x.attrs.zip":            true,
		"日本語.zip":                true,
		strings.Repeat("k", 255): true,
		strings.Repeat("é", 127): true, // 254 bytes
		"":                       false,
		".":                      false,
		"..":                     false,
		"../x":                   false,
		"a/b":                    false,
		"a\\b":                   false,
		".hidden":                false,
		".tmp-abc":               false,
		"x.attrs":                false,
		"a\x00b":                 false,
		"a\tb":                   false,
		"a\x1fb":                 false,
		"a\x7fb":                 false,
		"\xff.zip":               false,
		strings.Repeat("k", 256): false,
		strings.Repeat("é", 128): false, // 256 bytes
	} {
		if got := storage.ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestOpenErrors: bad URLs are ErrInvalid, and no secret from the URL shows
// up in the error text.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		kind error // nil: any error
	}{
		{"s3x://AKIAEXAMPLE:hunter2secret@bucket/?token=tokensecret", shared.ErrInvalid},
		{"gs://bucket?credentials=tokensecret", shared.ErrInvalid},
		{"mem://?token=tokensecret", shared.ErrInvalid},
		{"mem://AKIAEXAMPLE:hunter2secret@host?nomd5&bad=tokensecret", shared.ErrInvalid},
		{"/var/backups?tokensecret", shared.ErrInvalid},
		{"file://user:hunter2secret@/tmp/x", shared.ErrInvalid},
		{"file://host" + dir, shared.ErrInvalid},
		{"file:relative/tokensecret", shared.ErrInvalid},
		{"file://" + dir + "?token=tokensecret", shared.ErrInvalid},
		{"file://" + notDir, shared.ErrInvalid},
		{"http://[::1%zz]:hunter2secret/", shared.ErrInvalid},
		{"%zz://tokensecret", shared.ErrInvalid},
	} {
		s, err := storage.Open(t.Context(), tc.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.url)
			continue
		}
		t.Logf("Open(%q): %v", tc.url, err)
		if tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("Open(%q): %v, want an error wrapping %q", tc.url, err, tc.kind)
		}
		for _, secret := range []string{"hunter2secret", "tokensecret", "AKIAEXAMPLE", dir} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open(%q): error %q reveals %q", tc.url, err, secret)
			}
		}
	}
}

// TestLocalTempFileNeverListed: while a write is open its temp file sits in
// the directory, hidden from List; however the write ends without a
// successful Commit, the temp file is removed.
func TestLocalTempFileNeverListed(t *testing.T) {
	for name, finish := range map[string]func(w storage.Writer, cancel context.CancelFunc) error{
		"Abort": func(w storage.Writer, _ context.CancelFunc) error { return w.Abort() },
		"CancelThenAbort": func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			return w.Abort()
		},
		"CancelThenCommit": func(w storage.Writer, cancel context.CancelFunc) error {
			cancel()
			if err := w.Commit(); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("Commit after cancel: %v, want context.Canceled", err)
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, "file://"+dir)
			defer s.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := s.NewWriter(ctx, "b.zip")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("data")); err != nil {
				t.Fatal(err)
			}
			names := dirNames(t, dir)
			if len(names) != 1 || !strings.HasPrefix(names[0], ".tmp-") {
				t.Fatalf("directory holds %q, want one .tmp-* file", names)
			}
			if objs, err := s.List(t.Context()); err != nil || len(objs) != 0 {
				t.Errorf("List = %v, %v; want nothing", objs, err)
			}
			if err := finish(w, cancel); err != nil {
				t.Fatal(err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("afterwards the directory holds %q", names)
			}
		})
	}
}

// TestLocalForeignEntriesNotListed: crash leftovers, sidecars, directories
// and symlinks in the directory are not objects.
func TestLocalForeignEntriesNotListed(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		".tmp-0123456789abcdef": "leftover of a crash",
		"keep.zip.attrs":        "fileblob sidecar",
		".hidden":               "dot-file",
		"keep.zip":              "real",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "subdir", "nested.zip"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("keep.zip", filepath.Join(dir, "link.zip")); err != nil {
		t.Fatal(err)
	}
	s := open(t, "file://"+dir)
	defer s.Close()
	objs, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Key != "keep.zip" || objs[0].Size != 4 {
		t.Errorf("List = %v, want only keep.zip (4 bytes)", objs)
	}
	for _, key := range []string{"subdir", "link.zip"} {
		if _, err := s.Stat(t.Context(), key); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("Stat(%q): %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(t.Context(), key); !errors.Is(err, shared.ErrNotFound) {
			t.Errorf("Delete(%q): %v, want ErrNotFound", key, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "link.zip")); err != nil {
		t.Errorf("Delete of a symlink removed it: %v", err)
	}
}

// TestLocalCommitDurable: Commit (with its file and directory fsyncs)
// succeeds and leaves exactly the file, 0600, with the content written.
func TestLocalCommitDurable(t *testing.T) {
	dir := t.TempDir()
	s := open(t, "file://"+dir)
	defer s.Close()
	data := bytes.Repeat([]byte("durable "), 100000)
	w, err := s.NewWriter(t.Context(), "d.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"d.zip"}) {
		t.Errorf("directory holds %q, want [d.zip]", names)
	}
	got, err := os.ReadFile(filepath.Join(dir, "d.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("file holds %d bytes, want %d", len(got), len(data))
	}
	fi, err := os.Stat(filepath.Join(dir, "d.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %v, want 0600", perm)
	}
}

// TestLocalCreatesDir: a missing directory (and its parents) is created 0700.
func TestLocalCreatesDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	s := open(t, "file://"+dir)
	defer s.Close()
	for _, d := range []string{filepath.Join(base, "a"), dir} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a 0700 directory", d, fi.Mode())
		}
	}
	// An existing directory keeps its mode.
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, "file://"+dir)
	defer s2.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("reopened directory: %v, %v; want mode 0750 kept", fi.Mode(), err)
	}
}

// dirNames returns the sorted names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestLocalDirectoryRemovedWhileOpen: an operator removes the backups
// directory while the store is open; listing shows nothing and the next
// write creates the directory again.
func TestLocalDirectoryRemovedWhileOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	s, err := storage.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if objs, err := s.List(t.Context()); err != nil || len(objs) != 0 {
		t.Fatalf("List of a removed dir = %v, %v", objs, err)
	}
	if _, err := s.Stat(t.Context(), "a.zip"); !errors.Is(err, shared.ErrNotFound) {
		t.Fatalf("Stat = %v, want ErrNotFound", err)
	}
	w, err := s.NewWriter(t.Context(), "a.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "a.zip")); err != nil || string(got) != "data" {
		t.Fatalf("after recreate: %q, %v", got, err)
	}
}

// TestLocalStaleTempsRemoved: a temp file left by a writer that died is
// removed at the next listing; a live writer's temp file is left alone.
func TestLocalStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stale := filepath.Join(dir, ".tmp-deadbeefdeadbeefdeadbeef")
	if err := os.WriteFile(stale, []byte("half a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A fresh ".new-" file may be a writer about to lock it: it stays;
	// an old one is a leftover of a crash in that instant.
	fresh := filepath.Join(dir, ".new-0123456789abcdef01234567")
	oldNew := filepath.Join(dir, ".new-76543210fedcba9876543210")
	for _, p := range []string{fresh, oldNew} {
		if err := os.WriteFile(p, []byte("just created"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(oldNew, old, old); err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter(t.Context(), "live.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("in progress")); err != nil {
		t.Fatal(err)
	}
	if objs, err := s.List(t.Context()); err != nil || len(objs) != 0 {
		t.Fatalf("List = %v, %v", objs, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("fresh .new- file removed: %v", err)
	}
	if _, err := os.Stat(oldNew); !os.IsNotExist(err) {
		t.Fatalf("old .new- file still there: %v", err)
	}
	// The live writer's temp file stays even when it looks old.
	temps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, tmp := range temps {
		if err := os.Chtimes(tmp, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	if temps, _ = filepath.Glob(filepath.Join(dir, ".tmp-*")); len(temps) != 1 {
		t.Fatalf("want only the live writer's temp file left, got %v", temps)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if objs, err := s.List(t.Context()); err != nil || len(objs) != 1 {
		t.Fatalf("after commit List = %v, %v", objs, err)
	}
}
