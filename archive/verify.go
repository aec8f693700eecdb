package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
)

// Verify checks the zip archive of size bytes in r as [Check] does, then
// reads every file entry to its end, so that each one's CRC-32 and size
// are proven, without writing anything. A failure wraps [ErrInvalid] and
// names the entry and the reason. progressFn, if set, gets the
// uncompressed bytes read so far and their total.
func Verify(ctx context.Context, r io.ReaderAt, size int64, limits Limits, progressFn func(done, total int64)) (Summary, error) {
	sum, err := Check(r, size, limits)
	if err != nil {
		return sum, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return sum, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	buf := make([]byte, 256<<10)
	var done int64
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if !f.Mode().IsRegular() {
			continue
		}
		n, err := readEntry(ctx, f, buf, func(n int64) {
			if progressFn != nil {
				progressFn(done+n, sum.TotalBytes)
			}
		})
		done += n
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// readEntry reads one entry to its end; the zip reader checks the CRC-32
// and the declared size at EOF.
func readEntry(ctx context.Context, f *zip.File, buf []byte, progress func(int64)) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("entry %q: %w: %w", f.Name, ErrInvalid, err)
	}
	defer rc.Close()
	var n int64
	for {
		k, err := rc.Read(buf)
		n += int64(k)
		if n > int64(f.UncompressedSize64) {
			return n, fmt.Errorf("entry %q: %w: more data than its declared size", f.Name, ErrInvalid)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			return n, fmt.Errorf("entry %q: %w: %w", f.Name, ErrInvalid, err)
		}
		if n%(8<<20) < int64(k) {
			progress(n)
		}
	}
}
