package archive

import (
	"context"
	"io"
)

// bufSize is the size of the buffer each goroutine of an Extract call
// copies through.
const bufSize = 256 << 10

// progressStep is how many bytes pass between two progress reports.
const progressStep = 1 << 20

// progress reports bytes of content copied so far to an optional callback,
// at most once per progressStep bytes, plus once at the end.
type progress struct {
	fn    func(done, total int64)
	total int64
	done  int64
	last  int64 // done at the last report
}

// add counts n more bytes and reports if a step has passed since the last
// report. A total exceeded (a file grew since it was measured) is reported
// as done.
func (p *progress) add(n int64) {
	p.done += n
	if p.fn != nil && p.done-p.last >= progressStep {
		p.last = p.done
		p.fn(p.done, max(p.total, p.done))
	}
}

// finish makes the final report: done against the bytes actually copied,
// so a finished job always ends at 100%.
func (p *progress) finish() {
	if p.fn != nil {
		p.fn(p.done, p.done)
	}
}

// copyBuffer copies src to dst through buf until src reports io.EOF,
// checking ctx before every read and calling count after every write. It
// returns the bytes written and keeps the failing side apart: readErr is
// src's error (or ctx's), writeErr is dst's. It never uses io.WriterTo or
// io.ReaderFrom, so memory stays at len(buf) whatever the size of src.
func copyBuffer(ctx context.Context, dst io.Writer, src io.Reader, buf []byte, count func(int64)) (written int64, readErr, writeErr error) {
	for {
		if err := ctx.Err(); err != nil {
			return written, err, nil
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			written += int64(w)
			if count != nil && w > 0 {
				count(int64(w))
			}
			if werr == nil && w != n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, nil, werr
			}
		}
		if rerr == io.EOF {
			return written, nil, nil
		}
		if rerr != nil {
			return written, rerr, nil
		}
	}
}
