package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestOverlapWriterPassesAndHashesEveryByte writes pieces of every size
// around the buffer size: w gets the same bytes in order and the digest is
// theirs.
func TestOverlapWriterPassesAndHashesEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, 5*overlapBufSize+12345)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	for _, piece := range []int{1, 4096, overlapBufSize - 1, overlapBufSize, overlapBufSize + 1, 3 * overlapBufSize, len(src)} {
		var dst bytes.Buffer
		o := newOverlapWriter(&dst)
		for off := 0; off < len(src); off += piece {
			p := src[off:min(off+piece, len(src))]
			if n, err := o.Write(p); n != len(p) || err != nil {
				t.Fatalf("piece %d: Write = %d, %v", piece, n, err)
			}
		}
		if err := o.Close(); err != nil {
			t.Fatalf("piece %d: Close: %v", piece, err)
		}
		if !bytes.Equal(dst.Bytes(), src) {
			t.Fatalf("piece %d: w got %d bytes, not the %d written (or not in order)", piece, dst.Len(), len(src))
		}
		want := sha256.Sum256(src)
		if got := o.sum(); got != hex.EncodeToString(want[:]) {
			t.Fatalf("piece %d: digest %s, want %x", piece, got, want)
		}
		if o.size() != int64(len(src)) {
			t.Fatalf("piece %d: size %d, want %d", piece, o.size(), len(src))
		}
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct {
	n, got int
}

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.got+len(p) > f.n {
		return 0, errDiskFull
	}
	f.got += len(p)
	return len(p), nil
}

// TestOverlapWriterReportsTheStoreError: an error of w stops later writes
// and is what Close returns; nothing hangs.
func TestOverlapWriterReportsTheStoreError(t *testing.T) {
	o := newOverlapWriter(&failAfter{n: 2 * overlapBufSize})
	p := make([]byte, 64<<10)
	var err error
	for i := 0; i < 20*overlapBufSize/len(p) && err == nil; i++ {
		_, err = o.Write(p)
	}
	if cerr := o.Close(); !errors.Is(cerr, errDiskFull) {
		t.Fatalf("Close = %v, want the store's error", cerr)
	}
	if err != nil && !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want the store's error", err)
	}
	if _, err := o.Write(p); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestOverlapWriterShortEnd: bytes short of a buffer are written at Close.
func TestOverlapWriterShortEnd(t *testing.T) {
	var dst bytes.Buffer
	o := newOverlapWriter(&dst)
	if _, err := o.Write([]byte("PK\x05\x06")); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if dst.String() != "PK\x05\x06" {
		t.Fatalf("w got %q", dst.String())
	}
}
