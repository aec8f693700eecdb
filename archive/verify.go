package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
)

// Verify checks the zip archive of size bytes in r as [Check] does, then
// reads every file entry to its end, so that each one's CRC-32 and size
// are proven, without writing anything. A failure wraps [ErrInvalid] and
// names the entry and the reason. progressFn, if set, gets the
// uncompressed bytes read so far and their total.
func Verify(ctx context.Context, r io.ReaderAt, size int64, limits Limits, progressFn func(done, total int64)) (Summary, error) {
	return VerifyWith(ctx, r, size, VerifyOptions{Limits: limits, Progress: progressFn})
}

// VerifyOptions configure [VerifyWith].
type VerifyOptions struct {
	Limits   Limits
	Progress func(done, total int64)
	// Engine inflates the entries, as in [ExtractOptions].
	Engine Engine
}

// VerifyWith is [Verify] with the inflate engine chosen. Entries are read
// on as many goroutines as an extraction uses, each with the engine's
// inflater, so a verify reads about as fast as a restore stages; of
// several bad entries the first in the archive is named.
func VerifyWith(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (Summary, error) {
	sum, err := Check(r, size, opts.Limits)
	if err != nil {
		return sum, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return sum, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	zr.RegisterDecompressor(zip.Deflate, opts.Engine.codec().decompressor())
	var files []*zip.File
	for _, f := range zr.File {
		if f.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	var (
		done   atomic.Int64
		next   atomic.Int64
		failed atomic.Int64 // index of the first bad entry so far
		mu     sync.Mutex
		errs   = map[int]error{}
		wg     sync.WaitGroup
	)
	failed.Store(math.MaxInt64)
	// Progress is called from one goroutine at a time, with a total that
	// only grows, as from a sequential read.
	var progressMu sync.Mutex
	report := func(n int64) {
		if opts.Progress != nil {
			progressMu.Lock()
			defer progressMu.Unlock()
			opts.Progress(done.Add(n), sum.TotalBytes)
		}
	}
	for range min(workerCount(0), len(files)) {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || int64(i) > failed.Load() || ctx.Err() != nil {
					return
				}
				if _, err := readEntry(ctx, files[i], buf, report); err != nil {
					mu.Lock()
					errs[i] = err
					mu.Unlock()
					storeMin(&failed, int64(i))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	if first := failed.Load(); first != math.MaxInt64 {
		return sum, errs[int(first)]
	}
	return sum, nil
}

// readEntry reads one entry to its end; the zip reader checks the CRC-32
// and the declared size at EOF. progress gets the bytes read since its
// last call.
func readEntry(ctx context.Context, f *zip.File, buf []byte, progress func(int64)) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("entry %q: %w: %w", f.Name, ErrInvalid, err)
	}
	defer rc.Close()
	var n, reported int64
	for {
		k, err := rc.Read(buf)
		n += int64(k)
		if n > int64(f.UncompressedSize64) {
			return n, fmt.Errorf("entry %q: %w: more data than its declared size", f.Name, ErrInvalid)
		}
		if errors.Is(err, io.EOF) {
			progress(n - reported)
			return n, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			return n, fmt.Errorf("entry %q: %w: %w", f.Name, ErrInvalid, err)
		}
		if n-reported >= 8<<20 {
			progress(n - reported)
			reported = n
		}
	}
}
