package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"
)

// goCodec is the pure-Go engine, github.com/klauspost/compress/flate:
// level 1 deflates faster than compress/flate at the same level to about
// the same size, and its inflater is faster than compress/flate's too (see
// bench/NOTES.md).
type goCodec struct{}

func (goCodec) name() string                    { return "go" }
func (goCodec) newCompressor() compressor       { return newGoCompressor() }
func (goCodec) compBuffer() []byte              { return nil } // grown by append as chunks need
func (goCodec) callsC() bool                    { return false }
func (goCodec) decompressor() zip.Decompressor  { return decompressInflate }
func (goCodec) newPieceInflater() pieceInflater { return goPieceInflater{} }

func (goCodec) newReader(r io.Reader, history []byte) io.Reader {
	return flate.NewReaderDict(bufio.NewReaderSize(r, inflateBufSize), history)
}

// goCompressor deflates with klauspost at level 1.
type goCompressor struct {
	fw  *flate.Writer
	out appendWriter
}

func newGoCompressor() *goCompressor {
	c := &goCompressor{}
	c.fw, _ = flate.NewWriter(&c.out, flate.BestSpeed) // a valid level: no error
	return c
}

func (c *goCompressor) close() {}

func (c *goCompressor) deflate(dst, raw []byte, last bool) ([]byte, error) {
	c.out.b = dst
	c.fw.Reset(&c.out)
	_, err := c.fw.Write(raw)
	if err == nil {
		if last {
			err = c.fw.Close()
		} else {
			err = c.fw.Flush()
		}
	}
	out := c.out.b
	c.out.b = nil
	return out, err // appendWriter never fails: an error is a bug
}

// appendWriter appends what is written to b.
type appendWriter struct {
	b []byte
}

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// goPieceInflater checks pieces with klauspost's inflater.
//
// Where a block ends is taken from the bytes the inflater has read: given
// an io.ByteReader, it reads no byte before it needs one of its bits (the
// guarantee that lets gzip read its trailer after the deflate stream), so
// at the end of a block that ends on a byte boundary it has read exactly
// the bytes up to there. (InflateCheckpoint.CompressedOffset is not used:
// it counts some bytes twice after a stored block.)
type goPieceInflater struct{}

func (goPieceInflater) close() {}

func (goPieceInflater) inflate(s *segment) {
	var (
		blocks  int
		endRead int   // bytes read when the last block ended
		endBit  uint8 // bit offset in the byte where it ended
		final   bool
	)
	br := bytes.NewReader(s.in)
	fr := flate.NewReaderOpts(br, flate.WithEobCallback(func(cp flate.InflateCheckpoint) {
		blocks++
		endRead, endBit, final = len(s.in)-br.Len(), cp.BitOffset, cp.Final
	}))
	out := s.buf.out[:0]
	var err error
	for err == nil && len(out) < cap(out) {
		var m int
		m, err = fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+m]
	}
	switch {
	case len(out) > segMaxOut:
		return // too much for a segment of Write: not checked
	case s.last:
		s.ok = err == io.EOF
	default:
		s.ok = errors.Is(err, io.ErrUnexpectedEOF) && blocks > 0 && !final &&
			endRead == len(s.in) && endBit == 0
	}
	if s.ok {
		s.out = out
		s.crc = crc32.ChecksumIEEE(out)
	}
}
