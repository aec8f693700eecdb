package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// manyFilesZip holds n small entries "f000".."f(n-1)" in subdirectories,
// with a 3 MiB one first, written by Write; it returns the archive and the
// contents by name in archive order.
func manyFilesZip(t *testing.T, n int) ([]byte, []string, map[string]string) {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{"a/big": string(textBytes(t, 3<<20, 21))}
	for i := range n {
		name := fmt.Sprintf("d%d/f%03d", i%5, i)
		body := strings.Repeat(fmt.Sprintf("entry %d ", i), 50+i)
		if i%3 == 0 {
			body = string(pseudoRandom(5000+i, uint64(i)+100))
		}
		files[name] = body
	}
	writeTree(t, root, files)
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, Source{Root: root}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return buf.Bytes(), names, files
}

func TestExtractParallelRoundTrip(t *testing.T) {
	forEachInflater(t, func(t *testing.T, e Engine) { testExtractRoundTrip(t, ExtractOptions{Engine: e}) })
}

// TestExtractEachFsync takes the other way to durability: an fsync per file
// and directory (what Extract does without syncfs, before Linux 5.8 or off
// Linux), and checks Extract does take syncfs where it can.
func TestExtractEachFsync(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := newFSSyncer(root, false)
	if (s != nil) != (runtime.GOOS == "linux" && kernelAtLeast(5, 8)) {
		t.Errorf("newFSSyncer = %v on %s", s, runtime.GOOS)
	}
	if s != nil {
		if err := s.sync(); err != nil {
			t.Errorf("syncfs: %v", err)
		}
		s.close()
	}
	if newFSSyncer(root, true) != nil {
		t.Fatal("SyncEachFile: syncfs still used")
	}
	testExtractRoundTrip(t, ExtractOptions{SyncEachFile: true})
}

// testExtractRoundTrip extracts many files with opts (Progress aside).
func testExtractRoundTrip(t *testing.T, opts ExtractOptions) {
	z, _, files := manyFilesZip(t, 200)
	var total int64
	for _, c := range files {
		total += int64(len(c))
	}
	parent, dest := stagingDir(t)
	var calls [][2]int64
	opts.Progress = func(done, total int64) {
		calls = append(calls, [2]int64{done, total}) // calls never overlap: no lock
	}
	_, err := ExtractWith(context.Background(), bytes.NewReader(z), int64(len(z)), dest, opts)
	if err != nil {
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
	checkProgress(t, calls, total)
}

// TestExtractStopsAtFailedEntry corrupts one entry in the middle of many:
// Extract fails with ErrInvalid, leaving every entry before it complete and
// none after it, as extracting one entry at a time would.
func TestExtractStopsAtFailedEntry(t *testing.T) {
	z, names, files := manyFilesZip(t, 60)
	for _, bad := range []int{0, 1, 7, 30, 60} {
		t.Run(names[bad], func(t *testing.T) {
			zz := patchCentral(t, z, bad, cdCRC, 0xdeadbeef)
			for range 3 { // the workers race differently each time
				parent, dest := stagingDir(t)
				_, err := Extract(context.Background(), bytes.NewReader(zz), int64(len(zz)), dest, Limits{}, nil)
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), names[bad]) {
					t.Fatalf("Extract: err = %v, want ErrInvalid for %s", err, names[bad])
				}
				assertContained(t, parent)
				got := readTree(t, dest)
				for i, name := range names {
					c, ok := got[name]
					switch {
					case i < bad && c != files[name]:
						t.Errorf("entry %d %s before the failed one: %d bytes (present %v), want %d", i, name, len(c), ok, len(files[name]))
					case i > bad && ok:
						t.Errorf("entry %d %s after the failed one %d was left in dest", i, name, bad)
					}
				}
			}
		})
	}
}

// TestExtractConcurrentReads runs two Extracts of one *os.File at once:
// each reads its entries with ReadAt from several goroutines.
func TestExtractConcurrentReads(t *testing.T) {
	z, _, files := manyFilesZip(t, 40)
	path := filepath.Join(t.TempDir(), "backup.zip")
	if err := os.WriteFile(path, z, 0o644); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	errs := make(chan error, 2)
	dests := make([]string, 2)
	for i := range dests {
		_, dests[i] = stagingDir(t)
		go func() {
			_, err := Extract(context.Background(), zf, int64(len(z)), dests[i], Limits{}, nil)
			errs <- err
		}()
	}
	for range dests {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, dest := range dests {
		got := readTree(t, dest)
		for name, want := range files {
			if got[name] != want {
				t.Errorf("%s: %s differs", dest, name)
			}
		}
	}
}
