package storagetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

const mib = 1 << 20

// stream returns the deterministic byte stream seed names.
func stream(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// sumOf returns the SHA-256 of n bytes of r from offset.
func sumOf(t *testing.T, r io.Reader, offset, n int64) [sha256.Size]byte {
	t.Helper()
	if _, err := io.CopyN(io.Discard, r, offset); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, r, n); err != nil {
		t.Fatal(err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// sumRange returns the SHA-256 and length of length bytes of key from
// offset, read through an odd-sized buffer.
func sumRange(t *testing.T, s storage.Store, key string, offset, length int64) ([sha256.Size]byte, int64) {
	t.Helper()
	r, err := s.NewRangeReader(t.Context(), key, offset, length)
	if err != nil {
		t.Fatalf("NewRangeReader(%q, %d, %d): %v", key, offset, length, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 7919))
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return [sha256.Size]byte(h.Sum(nil)), n
}

func testLargeObject(t *testing.T, s storage.Store) {
	const size = 20 * mib
	w, err := s.NewWriter(t.Context(), "large.zip")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	defer w.Abort()
	src, h := stream(1), sha256.New()
	buf := make([]byte, mib)
	chunks := []int{mib, 1, 4093, 65537, mib - 1, 333333, 7, 2*mib - 3}
	var written int64
	for i := 0; written < size; i++ {
		n := min(int64(chunks[i%len(chunks)]), size-written)
		p := buf[:0]
		if n > int64(len(buf)) {
			p = make([]byte, n)
		}
		p = p[:n]
		if _, err := io.ReadFull(src, p); err != nil {
			t.Fatal(err)
		}
		h.Write(p)
		m, err := w.Write(p)
		if err != nil || m != len(p) {
			t.Fatalf("Write #%d (%d bytes at %d) = %d, %v", i, len(p), written, m, err)
		}
		written += n
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	want := [sha256.Size]byte(h.Sum(nil))

	o, err := s.Stat(t.Context(), "large.zip")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	wantObject(t, o, "large.zip", size)
	if got, n := sumRange(t, s, "large.zip", 0, -1); got != want || n != size {
		t.Errorf("read back %d bytes, sha256 %x; want %d bytes, %x", n, got, int64(size), want)
	}
	const off, length = 5*mib + 3, 3*mib + 5
	wantMid := sumOf(t, stream(1), off, length)
	if got, n := sumRange(t, s, "large.zip", off, length); got != wantMid || n != length {
		t.Errorf("read(%d, %d): %d bytes, sha256 %x; want %d bytes, %x", off, length, n, got, length, wantMid)
	}
}

func testConcurrentWriters(t *testing.T, s storage.Store) {
	const writers = 50
	content := func(i int) []byte {
		p := make([]byte, 64<<10+i)
		io.ReadFull(stream(byte(i)), p)
		return p
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("concurrent-%02d.zip", i)
			w, err := s.NewWriter(t.Context(), key)
			if err != nil {
				t.Errorf("NewWriter(%q): %v", key, err)
				return
			}
			defer w.Abort()
			data := content(i)
			// Several writes, so that writers interleave.
			for p := data; len(p) > 0; p = p[min(len(p), 10000):] {
				if _, err := w.Write(p[:min(len(p), 10000)]); err != nil {
					t.Errorf("Write(%q): %v", key, err)
					return
				}
			}
			if err := w.Commit(); err != nil {
				t.Errorf("Commit(%q): %v", key, err)
			}
		})
	}
	wg.Wait()
	m := list(t, s)
	if len(m) != writers {
		t.Errorf("List has %d objects, want %d", len(m), writers)
	}
	for i := range writers {
		key := fmt.Sprintf("concurrent-%02d.zip", i)
		if _, ok := m[key]; !ok {
			t.Errorf("List lacks %q", key)
			continue
		}
		wantBytes(t, get(t, s, key), content(i), key)
	}
}

func testListManyObjects(t *testing.T, s storage.Store) {
	const objects, workers = 2500, 8
	keyOf := func(i int) string { return fmt.Sprintf("many-%04d.zip", i) }
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				key := keyOf(i)
				w, err := s.NewWriter(t.Context(), key)
				if err != nil {
					t.Errorf("NewWriter(%q): %v", key, err)
					continue
				}
				_, err = w.Write(bytes.Repeat([]byte{'m'}, i%17))
				if err == nil {
					err = w.Commit()
				}
				if err != nil {
					t.Errorf("write %q: %v", key, err)
					w.Abort()
				}
			}
		})
	}
	for i := range objects {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	m := list(t, s)
	if len(m) != objects {
		t.Errorf("List has %d objects, want %d", len(m), objects)
	}
	for i := range objects {
		o, ok := m[keyOf(i)]
		if !ok {
			t.Errorf("List lacks %q", keyOf(i))
			continue
		}
		if o.Size != int64(i%17) {
			t.Errorf("List: %q has size %d, want %d", o.Key, o.Size, i%17)
		}
	}
}
