package archive

import (
	"archive/zip"
	"hash/crc32"
	"io"
	"sync"

	"github.com/pocketbackup/pocketbackup/archive/internal/isal"
)

// The accelerated engine: Intel ISA-L's igzip, loaded at run time from
// libisal.so.2 (internal/isal). Removing this file and its one call in
// Engine.codec leaves the pure-Go engine alone.

// isalLevel is the igzip level: on SQLite pages of text it deflates to
// about the size of klauspost's level 1, faster (see bench/NOTES.md).
const isalLevel = 2

// isalCodecIfAvailable returns the igzip engine if libisal.so.2 loads.
func isalCodecIfAvailable() (codec, bool) {
	if !isal.Available() {
		return nil, false
	}
	return isalCodec{}, true
}

// isalCodec is the igzip engine. Anything igzip cannot set up (or, never
// seen, a chunk it fails to deflate) falls back to the pure-Go engine for
// that goroutine, entry or chunk: both make and read plain Deflate.
type isalCodec struct{}

func (isalCodec) name() string                   { return "isa-l" }
func (isalCodec) callsC() bool                   { return true }
func (isalCodec) decompressor() zip.Decompressor { return decompressFast }

func (isalCodec) newCompressor() compressor {
	c := &isalCompressor{fallback: newGoCompressor()}
	c.d, _ = isal.NewDeflater(isalLevel) // nil on failure: klauspost does it all
	return c
}

// compBuffer is allocated once at igzip's worst case for a whole chunk, so
// it is never grown: growing it chunk after chunk to the sizes files
// happened to need (a 64 KiB sample, a small file, then a whole chunk)
// left garbage of every size, and the plugin's heap grew with the data set
// (see bench/NOTES.md). It also spares a copy from a per-worker scratch
// buffer.
func (isalCodec) compBuffer() []byte { return make([]byte, 0, isal.Bound(chunkSize)) }

func (isalCodec) newPieceInflater() pieceInflater {
	f, err := isal.NewInflater()
	if err != nil {
		return goPieceInflater{}
	}
	return isalPieceInflater{f: f}
}

func (isalCodec) newReader(r io.Reader, history []byte) io.Reader {
	if fr, err := isal.NewReader(r, history); err == nil {
		return fr
	}
	return goCodec{}.newReader(r, history)
}

// isalCompressor deflates with igzip, and with klauspost where igzip fails.
type isalCompressor struct {
	d        *isal.Deflater // nil: klauspost only
	fallback *goCompressor
}

// close frees the igzip stream, which lives in C memory.
func (c *isalCompressor) close() {
	if c.d != nil {
		c.d.Close()
	}
}

func (c *isalCompressor) deflate(dst, raw []byte, last bool) ([]byte, error) {
	if c.d != nil {
		// igzip writes straight into the chunk's buffer, which it wants
		// as large as its worst case: see compBuffer.
		out, err := c.d.Deflate(dst, raw, last)
		if err == nil {
			return out, nil
		}
		// Never seen; the chunk stands alone, so klauspost can take it.
	}
	return c.fallback.deflate(dst, raw, last)
}

// isalPieceInflater checks pieces with igzip's inflater, which reports
// how a piece ended itself (see isal.Inflater.Piece).
type isalPieceInflater struct {
	f *isal.Inflater
}

func (p isalPieceInflater) close() { p.f.Close() }

func (p isalPieceInflater) inflate(s *segment) {
	out, end := p.f.Piece(s.in, s.buf.out[:0])
	if s.last {
		s.ok = end == isal.PieceFinal
	} else {
		s.ok = end == isal.PieceBoundary
	}
	if s.ok {
		s.out = out
		s.crc = crc32.ChecksumIEEE(out)
	}
}

// fastInflaters pools igzip readers (see decompressFast).
var fastInflaters sync.Pool

// decompressFast is the zip.Decompressor for zip.Deflate of the igzip
// engine, whoever wrote the archive. It falls back to decompressInflate if
// the reader cannot be made.
func decompressFast(r io.Reader) io.ReadCloser {
	fr, _ := fastInflaters.Get().(*isal.Reader)
	if fr == nil || fr.Reset(r, nil) != nil {
		var err error
		if fr, err = isal.NewReader(r, nil); err != nil {
			return decompressInflate(r)
		}
	}
	return &pooledFast{r: fr}
}

// pooledFast returns its igzip reader to the pool when closed.
type pooledFast struct {
	r *isal.Reader
}

func (p *pooledFast) Read(b []byte) (int, error) {
	if p.r == nil {
		return 0, errReadAfterClose
	}
	return p.r.Read(b)
}

func (p *pooledFast) Close() error {
	if p.r == nil {
		return nil
	}
	err := p.r.Close() // drops the reference to the archive
	fastInflaters.Put(p.r)
	p.r = nil
	return err
}
