package isal

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// requireISAL skips without the library, unless PB_REQUIRE_ISAL=1 (set by
// make test, which installs it): then its absence fails the test.
func requireISAL(t *testing.T) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("PB_REQUIRE_ISAL") == "1" {
		t.Fatal("libisal.so.2 is not loadable and PB_REQUIRE_ISAL=1")
	}
	t.Skip("libisal.so.2 not on this machine (make test installs it)")
}

func testInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 3<<20)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog; SQLite page ", 40000))
	return map[string][]byte{"empty": nil, "one": {42}, "text": text, "random": random, "zeros": make([]byte, 2<<20)}
}

// TestDeflateRoundTrip: every level's output, chunk by chunk as the
// archive writer uses it, inflates with the standard library to the input.
func TestDeflateRoundTrip(t *testing.T) {
	requireISAL(t)
	for level := 1; level <= 3; level++ {
		d, err := NewDeflater(level)
		if err != nil {
			t.Fatal(err)
		}
		for name, in := range testInputs() {
			var stream []byte
			const chunk = 1 << 20
			for off := 0; ; off += chunk {
				end := min(off+chunk, len(in))
				last := end == len(in)
				before := len(stream)
				stream, err = d.Deflate(stream, in[off:end], last)
				if err != nil {
					t.Fatalf("level %d %s at %d: %v", level, name, off, err)
				}
				if !last && !bytes.HasSuffix(stream[before:], []byte{0, 0, 0xff, 0xff}) {
					t.Fatalf("level %d %s: chunk at %d does not end with a sync marker", level, name, off)
				}
				if last {
					break
				}
			}
			got, err := io.ReadAll(flate.NewReader(bytes.NewReader(stream)))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("level %d %s: inflate: %v, %d bytes back of %d", level, name, err, len(got), len(in))
			}
			if name == "text" && len(stream) > len(in)/10 {
				t.Errorf("level %d: text deflated to %d of %d bytes", level, len(stream), len(in))
			}
			if name == "random" && len(stream) > Bound(len(in)) {
				t.Errorf("level %d: random grew to %d bytes", level, len(stream))
			}
		}
		d.Close()
		if _, err := d.Deflate(nil, []byte("x"), true); err == nil {
			t.Fatal("Deflate after Close did not fail")
		}
	}
}

// TestDeflateAppends keeps what dst held.
func TestDeflateAppends(t *testing.T) {
	requireISAL(t)
	d, err := NewDeflater(2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := d.Deflate([]byte("prefix"), []byte("hello hello hello"), true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", out)
	}
	got, err := io.ReadAll(flate.NewReader(bytes.NewReader(out[6:])))
	if err != nil || string(got) != "hello hello hello" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestNewDeflaterLevels(t *testing.T) {
	if _, err := NewDeflater(4); err == nil {
		t.Fatal("level 4 accepted")
	}
	if _, err := NewDeflater(0); err == nil {
		t.Fatal("level 0 accepted")
	}
	if _, err := NewDeflater(-1); err == nil {
		t.Fatal("level -1 accepted")
	}
}
