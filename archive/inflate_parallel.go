package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"slices"
	"sync"
)

// Inflating one large entry on several cores.
//
// Deflate is sequential in general: a block may copy from the 32 KiB of
// output before it. But Write deflates each 1 MiB chunk of a file on its
// own and ends it with a sync flush, so its streams are made of pieces that
// need nothing before them, each ending with the bytes 00 00 ff ff. The
// extractor cuts a stream at such bytes into segments, inflates the
// segments at once, each with an empty history, and checks each one: it
// must inflate without error (a copy from before its start is one), with no
// final block, and end exactly at a block boundary on a byte, at the end of
// its bytes; the last must end with a final block. Then, by induction from
// the start of the stream, a sequential inflater is at a block boundary at
// every cut and produces the same bytes: the parallel result is the
// sequential one. The first segment that fails the check (a false cut,
// another writer's stream, a hostile one) and everything after it is
// inflated sequentially, from the verified boundary before it, with the
// output so far as history. Nothing about the result is trusted more than
// in the sequential path: sizes and the CRC-32 are checked after.

const (
	// parallelMinCompressed is the compressed size from which an entry is
	// inflated on several cores.
	parallelMinCompressed = 4 << 20
	// A segment is cut at the first sync marker past segMinIn bytes, or
	// at its segMaxMarkers-th marker, so that it inflates to at most
	// segMaxOut from a stream of Write (a chunk per marker); a segment
	// with no marker in segMaxIn bytes ends the parallel inflation.
	segMinIn      = 128 << 10
	segMaxMarkers = 2
	segMaxOut     = segMaxMarkers * chunkSize
	segMaxIn      = segMaxOut + 64<<10
	segReadSize   = 64 << 10 // read size while looking for markers
	historySize   = 32 << 10 // deflate's window
)

// syncMarker ends a sync flush: LEN 0 and NLEN 0xffff of an empty stored
// block, byte-aligned.
var syncMarker = []byte{0, 0, 0xff, 0xff}

// segment is a part of a compressed stream, inflated on its own.
type segment struct {
	start      int64  // offset in the compressed stream
	in         []byte // its compressed bytes: a prefix of buf.in
	last       bool   // it runs to the end of the stream
	sequential bool   // no cut found: inflate the rest of the stream from start sequentially
	out        []byte // inflated, if ok: a prefix of buf.out
	ok         bool   // inflated and checked
	crc        uint32 // CRC-32 of out
	err        error  // reading the archive failed
	buf        *segBuf
	done       chan struct{}
}

// segBuf is one of the fixed number of buffers segments travel in.
type segBuf struct {
	in, out []byte
}

// inflateParallel inflates the deflated entry f, number i, into out with up
// to workers goroutines, and returns the bytes written and their CRC-32. It
// writes at most the declared size and fails with errTrailingData if the
// entry holds more; the caller checks the size and CRC-32.
func (x *extractor) inflateParallel(ctx context.Context, f *zip.File, i int, out io.Writer, workers int) (int64, uint32, error) {
	off, err := f.DataOffset()
	if err != nil {
		return 0, 0, err
	}
	stream := io.NewSectionReader(x.src, off, int64(f.CompressedSize64))

	// The helpers stop with hctx; ctx goes on if the rest of the stream is
	// inflated here.
	hctx, cancel := context.WithCancel(ctx)
	nbuf := 2*workers + 2
	free := make(chan *segBuf, nbuf)
	for range nbuf {
		free <- &segBuf{}
	}
	work := make(chan *segment, nbuf)
	ordered := make(chan *segment, nbuf)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before wg.Wait
	wg.Go(func() { cutSegments(hctx, stream, free, work, ordered) })
	for range workers {
		wg.Go(func() {
			pi := x.codec.newPieceInflater()
			defer pi.close()
			for s := range work {
				if hctx.Err() == nil {
					inflateSegment(s, pi)
				}
				close(s.done)
			}
		})
	}

	declared := int64(f.UncompressedSize64)
	var (
		n       int64
		crc     uint32
		history []byte // the last historySize bytes written
	)
	for s := range ordered {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return n, crc, err
		}
		if x.failed.Load() < int64(i) {
			return n, crc, errSuperseded
		}
		if s.err != nil {
			return n, crc, s.err
		}
		if !s.ok {
			cancel() // the rest is sequential
			x.sequentialFrom.Add(1)
			return x.inflateFrom(ctx, stream, s.start, history, out, n, crc, declared, int64(i))
		}
		if n+int64(len(s.out)) > declared {
			return n, crc, errTrailingData
		}
		if _, err := out.Write(s.out); err != nil {
			return n, crc, &writeError{err}
		}
		n += int64(len(s.out))
		crc = crc32Combine(crc, s.crc, int64(len(s.out)))
		x.addProgress(int64(len(s.out)))
		history = appendHistory(history, s.out)
		free <- s.buf // never blocks: there are nbuf buffers
		if s.last {
			return n, crc, nil
		}
	}
	return n, crc, ctx.Err() // the cutter stops early only when ctx ends
}

// appendHistory returns the last historySize bytes of h followed by b.
func appendHistory(h, b []byte) []byte {
	if len(b) >= historySize {
		return append(h[:0], b[len(b)-historySize:]...)
	}
	if keep := historySize - len(b); len(h) > keep {
		h = append(h[:0], h[len(h)-keep:]...)
	}
	return append(h, b...)
}

// inflateFrom inflates the stream sequentially from offset start, a block
// boundary at which n bytes with CRC-32 crc were written and history ends,
// into out, up to declared bytes in all.
func (x *extractor) inflateFrom(ctx context.Context, stream *io.SectionReader, start int64, history []byte, out io.Writer, n int64, crc uint32, declared, i int64) (int64, uint32, error) {
	rest := io.NewSectionReader(stream, start, stream.Size()-start)
	fr := x.codec.newReader(rest, history)
	crcw := &crcWriter{crc: crc}
	body := io.TeeReader(&supersedable{r: io.LimitReader(fr, declared-n), x: x, i: i}, crcw)
	buf := make([]byte, bufSize)
	m, rerr, werr := copyBuffer(ctx, out, body, buf, x.addProgress)
	n += m
	switch {
	case werr != nil:
		return n, crcw.crc, &writeError{werr}
	case rerr != nil:
		return n, crcw.crc, rerr
	}
	if n == declared {
		if err := expectEOF(fr); err != nil {
			return n, crcw.crc, err
		}
	}
	return n, crcw.crc, nil
}

// crcWriter updates an IEEE CRC-32 with what is written to it.
type crcWriter struct {
	crc uint32
}

func (w *crcWriter) Write(p []byte) (int, error) {
	w.crc = crc32.Update(w.crc, crc32.IEEETable, p)
	return len(p), nil
}

// writeError marks an error of the destination, not of the archive.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// cutSegments reads the stream in order, cuts it into segments and hands
// each to the workers (unless it is to be inflated sequentially) and to
// the writer, in order, until the end of the stream, a segment with no cut,
// a read error (passed on in a segment) or the end of ctx.
func cutSegments(ctx context.Context, stream *io.SectionReader, free chan *segBuf, work, ordered chan *segment) {
	defer close(work)
	defer close(ordered)
	size := stream.Size()
	var (
		start int64  // stream offset of the next segment
		pos   int64  // stream offset read up to
		carry []byte // bytes read past the last cut
	)
	for {
		var buf *segBuf
		select {
		case buf = <-free:
		case <-ctx.Done():
			return
		}
		s := &segment{start: start, buf: buf, done: make(chan struct{})}
		in := append(buf.in[:0], carry...)
		cut, markers, scanned := -1, 0, 0
		for cut < 0 && pos < size && len(in) < segMaxIn {
			if ctx.Err() != nil {
				return
			}
			k := int(min(segReadSize, size-pos))
			in = slices.Grow(in, k)
			m, err := stream.ReadAt(in[len(in):len(in)+k], pos)
			if m < k {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				s.err = err
				close(s.done)
				select {
				case ordered <- s:
				case <-ctx.Done():
				}
				return
			}
			in = in[:len(in)+k]
			pos += int64(k)
			for from := max(0, scanned-len(syncMarker)+1); ; {
				j := bytes.Index(in[from:], syncMarker)
				if j < 0 {
					break
				}
				end := from + j + len(syncMarker)
				markers++
				if end >= segMinIn || markers >= segMaxMarkers {
					cut = end
					break
				}
				from = end
			}
			scanned = len(in)
		}
		switch {
		case cut >= 0:
			carry = append(carry[:0], in[cut:]...)
			s.in = in[:cut]
			start += int64(cut)
		case pos == size:
			s.in, s.last = in, true
		default:
			s.sequential = true
		}
		buf.in = in[:0] // keep its capacity
		select {
		case ordered <- s:
		case <-ctx.Done():
			return
		}
		if s.sequential {
			close(s.done)
			return
		}
		select {
		case work <- s:
		case <-ctx.Done():
			return
		}
		if s.last {
			return
		}
	}
}

// inflateSegment inflates s on its own with pi and checks that the result
// is what a sequential inflater would produce there (see the top of this
// file).
func inflateSegment(s *segment, pi pieceInflater) {
	if cap(s.buf.out) < segMaxOut+1 {
		s.buf.out = make([]byte, 0, segMaxOut+1)
	}
	pi.inflate(s)
}
