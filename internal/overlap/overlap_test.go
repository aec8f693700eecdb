package overlap

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestEverySinkGetsEveryByte writes pieces of every size around the buffer
// size: each sink (a writer and a hash) gets the same bytes in order.
func TestEverySinkGetsEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, 5*BufSize+12345)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(src)
	for _, piece := range []int{1, 4096, BufSize - 1, BufSize, BufSize + 1, 3 * BufSize, len(src)} {
		var dst, dst2 bytes.Buffer
		h := sha256.New()
		o := New(&dst, h, &dst2)
		for off := 0; off < len(src); off += piece {
			p := src[off:min(off+piece, len(src))]
			if n, err := o.Write(p); n != len(p) || err != nil {
				t.Fatalf("piece %d: Write = %d, %v", piece, n, err)
			}
		}
		if err := o.Close(); err != nil {
			t.Fatalf("piece %d: Close: %v", piece, err)
		}
		for i, d := range []*bytes.Buffer{&dst, &dst2} {
			if !bytes.Equal(d.Bytes(), src) {
				t.Fatalf("piece %d: sink %d got %d bytes, not the %d written (or not in order)", piece, i, d.Len(), len(src))
			}
		}
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("piece %d: digest %x, want %x", piece, got, want)
		}
		if o.Size() != int64(len(src)) {
			t.Fatalf("piece %d: Size %d, want %d", piece, o.Size(), len(src))
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

// TestSinkErrorIsReported: an error of one sink stops later writes and is
// what Close returns; nothing hangs.
func TestSinkErrorIsReported(t *testing.T) {
	o := New(sha256.New(), &failAfter{n: 2 * BufSize})
	p := make([]byte, 64<<10)
	var err error
	for i := 0; i < 20*BufSize/len(p) && err == nil; i++ {
		_, err = o.Write(p)
	}
	if cerr := o.Close(); !errors.Is(cerr, errDiskFull) {
		t.Fatalf("Close = %v, want the sink's error", cerr)
	}
	if err != nil && !errors.Is(err, errDiskFull) {
		t.Fatalf("Write = %v, want the sink's error", err)
	}
	if _, err := o.Write(p); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestShortEnd: bytes short of a buffer are handed on at Close.
func TestShortEnd(t *testing.T) {
	var dst bytes.Buffer
	o := New(&dst)
	if _, err := o.Write([]byte("PK\x05\x06")); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if dst.String() != "PK\x05\x06" {
		t.Fatalf("sink got %q", dst.String())
	}
}

// TestNoSinks: a Writer without sinks accepts and drops everything.
func TestNoSinks(t *testing.T) {
	o := New()
	p := make([]byte, 3*BufSize*Buffers)
	if n, err := o.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}
