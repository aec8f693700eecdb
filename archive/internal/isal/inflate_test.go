package isal

import (
	"bytes"
	"compress/flate"
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
