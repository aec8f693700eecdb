package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/plugintest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/plugin/storage/storagetest"
	"github.com/pocketbackup/pocketbackup/shared"
)

func openURL(t *testing.T, url string) storage.Store {
	t.Helper()
	s, err := open(t.Context(), url)
	if err != nil {
		t.Fatalf("open(%q): %v", url, err)
	}
	return s
}

// TestConformance: the storage conformance suite over manifest://.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openURL(t, "manifest://"+t.TempDir()) })
}

// TestBackupsConformance: the plugin's whole Backups service (create,
// upload, download, restore…) over the manifest store, in-process.
func TestBackupsConformance(t *testing.T) {
	plugintest.Run(t, func(t *testing.T) plugintest.Target {
		svc := plugin.NewService(open, nil)
		t.Cleanup(func() { _ = svc.Close() })
		return plugintest.Target{Backups: svc, StorageURL: "manifest://" + filepath.Join(t.TempDir(), "backups")}
	})
}

// TestLayout: files sit in month folders, the manifest lists them with
// their checksums, and nothing else is left in the directory.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := openURL(t, "manifest://"+dir)
	defer s.Close()
	put(t, s, "a.zip", "first")
	w, err := s.NewWriter(t.Context(), "a.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, shared.ErrExists) {
		t.Fatalf("Commit over a.zip: %v, want ErrExists", err)
	}
	put(t, s, "b.zip", "bee")

	month := time.Now().UTC().Format("2006-01")
	mf := readManifest(t, dir)
	if len(mf.Objects) != 2 || mf.Objects[0].Key != "a.zip" || mf.Objects[1].Key != "b.zip" {
		t.Fatalf("manifest = %+v", mf)
	}
	a, b := mf.Objects[0], mf.Objects[1]
	if a.Path != month+"/a.zip" || a.Size != 5 ||
		a.SHA256 != "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e" {
		t.Errorf("a.zip entry = %+v", a)
	}
	if b.Path != month+"/b.zip" {
		t.Errorf("b.zip entry = %+v", b)
	}
	if got, want := tree(t, dir), sorted(".tmp/", month+"/", month+"/a.zip", month+"/b.zip", "manifest.json"); !slices.Equal(got, want) {
		t.Errorf("tree = %q", got)
	}
	if err := s.Delete(t.Context(), "a.zip"); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dir), sorted(".tmp/", month+"/", month+"/b.zip", "manifest.json"); !slices.Equal(got, want) {
		t.Errorf("after Delete, tree = %q", got)
	}
	if err := s.Delete(t.Context(), "b.zip"); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, dir), sorted(".tmp/", "manifest.json"); !slices.Equal(got, want) {
		t.Errorf("after Delete, tree = %q (the emptied month folder should go)", got)
	}
}

// TestReopen: what was committed is there after the store is closed and
// opened again; leftovers of a crash (a file the manifest does not list, an
// old temp file) are removed and never listed.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openURL(t, "manifest://"+dir)
	put(t, s, "kept.zip", "kept")
	s.Close()

	month := time.Now().UTC().Format("2006-01")
	orphan := filepath.Join(dir, month+".7", "orphan.zip")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("renamed in, manifest never written"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldTemp := filepath.Join(dir, tempDir, "w-crashed")
	if err := os.WriteFile(oldTemp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(oldTemp, old, old); err != nil {
		t.Fatal(err)
	}

	s = openURL(t, "manifest://"+dir)
	defer s.Close()
	objs, err := s.List(t.Context())
	if err != nil || len(objs) != 1 || objs[0].Key != "kept.zip" || objs[0].Size != 4 {
		t.Fatalf("List after reopen = %v, %v", objs, err)
	}
	for _, p := range []string{orphan, filepath.Dir(orphan), oldTemp} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s still there (%v)", p, err)
		}
	}
}

// TestSharedDirectory: two stores open on one directory see one state.
func TestSharedDirectory(t *testing.T) {
	dir := t.TempDir()
	s1 := openURL(t, "manifest://"+dir)
	defer s1.Close()
	s2 := openURL(t, "manifest://"+dir+"/")
	defer s2.Close()
	put(t, s1, "one.zip", "1")
	if o, err := s2.Stat(t.Context(), "one.zip"); err != nil || o.Size != 1 {
		t.Errorf("the second store: Stat = %v, %v", o, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, url := range []string{
		"manifest://relative/dir",
		"manifest:relative",
		"manifest:///abs?x=secretvalue",
		"manifest://user:secretvalue@/abs",
		"nope:///abs",
	} {
		s, err := open(t.Context(), url)
		if err == nil {
			s.Close()
			t.Errorf("open(%q) succeeded", url)
			continue
		}
		if !errors.Is(err, shared.ErrInvalid) || strings.Contains(err.Error(), "secretvalue") {
			t.Errorf("open(%q): %v, want ErrInvalid without the URL's secrets", url, err)
		}
	}
	// Other schemes go to storage.Open.
	s := openURL(t, "mem://")
	s.Close()
}

func put(t *testing.T, s storage.Store, key, data string) {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func readManifest(t *testing.T, dir string) manifestFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	var mf manifestFile
	if err := json.Unmarshal(data, &mf); err != nil {
		t.Fatal(err)
	}
	return mf
}

// tree lists dir recursively, folders with a trailing '/'.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestVerify: digests and verification through the plugin's service over
// the manifest store. A stored byte is changed on disk, behind the
// store's back, as rot or tampering would.
func TestVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	url := "manifest://" + dir
	svc := plugin.NewService(open, nil)
	t.Cleanup(func() { _ = svc.Close() })
	raw := plugintest.RawStore(func(t *testing.T) storage.Store { return openURL(t, url) })
	raw.PutTampered = func(t *testing.T, key string, data []byte, _ string) {
		t.Helper()
		raw.Put(t, key, data)
		files, err := filepath.Glob(filepath.Join(dir, "*", key))
		if err != nil || len(files) != 1 {
			t.Fatalf("stored file of %s: %v, %v", key, files, err)
		}
		stored, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		stored[len(stored)/2] ^= 0x01
		if err := os.WriteFile(files[0], stored, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plugintest.RunVerify(t, plugintest.Target{Backups: svc, StorageURL: url}, raw)
}
