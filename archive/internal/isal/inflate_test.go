package isal

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// pieces deflates chunks of in with d, each on its own, and returns the
// compressed pieces.
func pieces(t *testing.T, d *Deflater, in []byte, chunk int) [][]byte {
	t.Helper()
	var out [][]byte
	for off := 0; ; off += chunk {
		end := min(off+chunk, len(in))
		p, err := d.Deflate(nil, in[off:end], end == len(in))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
		if end == len(in) {
			return out
		}
	}
}

func TestInflatePieces(t *testing.T) {
	requireISAL(t)
	d, err := NewDeflater(2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := NewInflater()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := []byte(strings.Repeat("a row of a table, then another row; ", 100_000))
	const chunk = 1 << 20
	ps := pieces(t, d, text, chunk)
	if len(ps) < 3 {
		t.Fatalf("%d pieces", len(ps))
	}
	out := make([]byte, 0, chunk+1)
	for i, p := range ps {
		got, end := f.Piece(p, out)
		want := PieceBoundary
		if i == len(ps)-1 {
			want = PieceFinal
		}
		if end != want || !bytes.Equal(got, text[i*chunk:min((i+1)*chunk, len(text))]) {
			t.Fatalf("piece %d: end %d (want %d), %d bytes", i, end, want, len(got))
		}
	}
	// Two pieces end to end are still one piece.
	if got, end := f.Piece(append(append([]byte{}, ps[0]...), ps[1]...), make([]byte, 0, 2*chunk+1)); end != PieceBoundary || len(got) != 2*chunk {
		t.Errorf("two pieces: end %d, %d bytes", end, len(got))
	}

	cases := map[string]struct {
		in   []byte
		out  int
		want Piece
	}{
		"cut inside a block":      {ps[0][:len(ps[0])/2], chunk + 1, PieceBad},
		"cut before the marker":   {ps[0][:len(ps[0])-2], chunk + 1, PieceBad},
		"starts inside a block":   {ps[1][len(ps[1])/2:], chunk + 1, PieceBad},
		"output space runs out":   {ps[0], chunk / 2, PieceFull},
		"final block, then bytes": {append(append([]byte{}, ps[len(ps)-1]...), ps[0]...), 4 * chunk, PieceFinal},
		"garbage":                 {bytes.Repeat([]byte{0xff}, 1000), chunk, PieceBad},
	}
	for name, c := range cases {
		if _, end := f.Piece(c.in, make([]byte, 0, c.out)); end != c.want {
			t.Errorf("%s: end %d, want %d", name, end, c.want)
		}
	}
}

// TestInflatePieceNeedsHistory: a piece of a stream whose blocks copy from
// before the piece (compress/flate with sync flushes keeps its window) is
// bad, not inflated with garbage.
func TestInflatePieceNeedsHistory(t *testing.T) {
	requireISAL(t)
	f, err := NewInflater()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := []byte(strings.Repeat("shared history across the flush point; ", 10_000))
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, 1)
	fw.Write(text[:200_000])
	fw.Flush()
	first := comp.Len()
	fw.Write(text[200_000:])
	fw.Close()
	if _, end := f.Piece(comp.Bytes()[:first], make([]byte, 0, len(text))); end != PieceBoundary {
		t.Fatalf("first piece: end %d", end)
	}
	if _, end := f.Piece(comp.Bytes()[first:], make([]byte, 0, len(text))); end != PieceBad {
		t.Fatalf("second piece, which needs the first as history: end %d, want PieceBad", end)
	}
}

// oneByteReader hands out its bytes one at a time, to cross every
// boundary of igzip's state.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReader(t *testing.T) {
	requireISAL(t)
	var tb []byte
	for i := range 60_000 {
		tb = fmt.Appendf(tb, "row %d of text, with %x and %d; ", i, i*i, i%97)
	}
	text := tb
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, 6)
	fw.Write(text)
	fw.Close()
	z := comp.Bytes()

	r, err := NewReader(bytes.NewReader(z), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, text) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	// Small reads on both sides.
	if err := r.Reset(&oneByteReader{z[:len(z)/2]}, nil); err != nil {
		t.Fatal(err)
	}
	var small []byte
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		small = append(small, buf[:n]...)
		if err != nil {
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("cut stream: %v, want io.ErrUnexpectedEOF", err)
			}
			break
		}
	}
	if !bytes.HasPrefix(text, small) || len(small) == 0 {
		t.Fatalf("cut stream gave %d bytes not a prefix of the text", len(small))
	}
	// Corrupt data.
	if err := r.Reset(bytes.NewReader(bytes.Repeat([]byte{0xff}, 100)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("garbage: %v, want ErrCorrupt", err)
	}
	// A stream going on from a history.
	var second bytes.Buffer
	fw2, _ := flate.NewWriterDict(&second, 6, text[:50_000])
	fw2.Write(text[50_000:100_000])
	fw2.Close()
	if err := r.Reset(bytes.NewReader(second.Bytes()), text[:50_000]); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, text[50_000:100_000]) {
		t.Fatalf("with history: %d bytes, %v", len(got), err)
	}
}
