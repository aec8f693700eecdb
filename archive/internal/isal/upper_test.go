package isal

import (
	"bytes"
	"runtime"
	"testing"
)

// TestCallsLeaveUpperStateClean: after a call into libisal the thread's
// upper vector state is clean, so the SSE code Go runs next on the thread
// (SHA-NI SHA-256, CRC-32, memmove) pays no transition penalty; with it
// dirty, the SHA-256 of a create's archive ran many times slower.
func TestCallsLeaveUpperStateClean(t *testing.T) {
	if !Available() {
		t.Fatal("libisal.so.2 not loaded (make test installs libisal2)")
	}
	loaded() // sets what upperStateDirty needs to know of the CPU
	if _, ok := upperStateDirty(); !ok {
		t.Skip("this CPU has no AVX or cannot report its vector state (xgetbv 1): no penalty to guard against")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	src := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog 0123456789 "), 1<<14)
	d, err := NewDeflater(1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.Deflate(nil, src, true)
	if err != nil {
		t.Fatal(err)
	}
	if dirty, _ := upperStateDirty(); dirty {
		t.Fatal("deflate returned with the upper vector state dirty")
	}
	f, err := NewInflater()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Piece(out, make([]byte, len(src)))
	if dirty, _ := upperStateDirty(); dirty {
		t.Fatal("inflate returned with the upper vector state dirty")
	}
}
