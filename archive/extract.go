package archive

import (
	"archive/zip"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Extract checks the zip archive of size bytes in r (see [Check]) and
// extracts it into dest, an existing empty directory.
//
// Everything is written through [os.Root], so no name can reach outside
// dest; parent directories are created as needed (0755) and files are
// created anew (0644, never overwriting). No header is trusted: at most the
// declared size of an entry is copied, and an entry that yields more or
// fewer bytes, or content whose CRC-32 differs from the central directory's,
// fails with [ErrInvalid]; bytes actually written count against
// limits.MaxTotalBytes. Each file is fsynced as it is finished and each
// directory at the end.
//
// progress, if set, is called as by [Write] with total = Summary.TotalBytes.
// Extract checks ctx between entries and during copies and returns
// ctx.Err() once it is cancelled. On error, whatever was written stays in
// dest: the caller removes its staging directory.
func Extract(ctx context.Context, r io.ReaderAt, size int64, dest string, limits Limits, progressFn func(done, total int64)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	limits = limits.withDefaults()
	src := &sourceReader{r: r, size: size}
	zr, err := openZip(src, size)
	if err != nil {
		return err
	}
	// One central directory serves the check and the extraction, so a
	// source that changes in between cannot slip past the check.
	sum, err := check(zr, size, limits)
	if err != nil {
		return err
	}

	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer root.Close()
	if err := requireEmpty(root); err != nil {
		return err
	}

	x := &extractor{
		root:   root,
		src:    src,
		limits: limits,
		buf:    make([]byte, bufSize),
		prog:   &progress{fn: progressFn, total: sum.TotalBytes},
		dirs:   map[string]bool{".": true},
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if name, isDir := strings.CutSuffix(f.Name, "/"); isDir {
			if err := x.mkdirAll(name); err != nil {
				return err
			}
			continue
		}
		if err := x.mkdirAll(path.Dir(f.Name)); err != nil {
			return err
		}
		if err := x.file(ctx, f); err != nil {
			return err
		}
	}
	if err := x.syncDirs(); err != nil {
		return err
	}
	x.prog.finish()
	return nil
}

// requireEmpty fails unless the directory of root has no entries.
func requireEmpty(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read destination: %w", err)
	}
	if len(names) > 0 {
		return errors.New("extract: destination is not empty")
	}
	return nil
}

// extractor holds the state of one Extract call.
type extractor struct {
	root    *os.Root
	src     *sourceReader
	limits  Limits
	buf     []byte
	prog    *progress
	dirs    map[string]bool // directories created, "." included
	written int64           // content bytes written so far
}

// mkdirAll creates dir ('/'-separated, "." for the root) and its parents
// and records them for the final fsync.
func (x *extractor) mkdirAll(dir string) error {
	if x.dirs[dir] {
		return nil
	}
	if err := x.root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	for d := dir; d != "." && !x.dirs[d]; d = path.Dir(d) {
		x.dirs[d] = true
	}
	return nil
}

// file extracts one regular file entry; its parent exists.
func (x *extractor) file(ctx context.Context, f *zip.File) (err error) {
	declared := int64(f.UncompressedSize64) // at most MaxTotalBytes: checked
	rc, err := f.Open()
	if err != nil {
		return x.readErr(f, err)
	}
	defer rc.Close()

	out, err := x.root.OpenFile(filepath.FromSlash(f.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.Name, err)
	}
	defer func() {
		if out != nil {
			err = errors.Join(err, out.Close())
		}
	}()

	crc := crc32.NewIEEE()
	body := io.TeeReader(io.LimitReader(rc, declared), crc)
	n, rerr, werr := copyBuffer(ctx, out, body, x.buf, x.prog.add)
	x.written += n
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return fmt.Errorf("write %s: %w", f.Name, werr)
	case rerr != nil:
		return x.readErr(f, rerr)
	case n != declared:
		return fmt.Errorf("%w: entry %q: %d bytes of data, %d declared", ErrInvalid, f.Name, n, declared)
	case x.written > x.limits.MaxTotalBytes:
		return fmt.Errorf("%w: entry %q: total size over %d bytes", ErrInvalid, f.Name, x.limits.MaxTotalBytes)
	}
	if err := expectEOF(rc); err != nil {
		return x.readErr(f, err)
	}
	if sum := crc.Sum32(); sum != f.CRC32 {
		return fmt.Errorf("%w: entry %q: CRC-32 %08x, declared %08x", ErrInvalid, f.Name, sum, f.CRC32)
	}

	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name, err)
	}
	cerr := out.Close()
	out = nil
	if cerr != nil {
		return fmt.Errorf("close %s: %w", f.Name, cerr)
	}
	return nil
}

// errTrailingData reports an entry whose data goes on past its declared
// size.
var errTrailingData = errors.New("more data than declared")

// expectEOF reads once more past the declared size: the entry must end
// there. It also lets archive/zip check the CRC-32 and data descriptor,
// which it does on reaching the end.
func expectEOF(r io.Reader) error {
	var one [1]byte
	for range 100 { // readers may return (0, nil); don't spin forever
		n, err := r.Read(one[:])
		switch {
		case n > 0, errors.Is(err, zip.ErrFormat): // archive/zip's own size check
			return errTrailingData
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// readErr turns an error reading entry f into the error Extract returns:
// an I/O error if the source itself failed, otherwise ErrInvalid (a
// truncated archive, corrupt data, a bad CRC).
func (x *extractor) readErr(f *zip.File, err error) error {
	if x.src.err != nil {
		return fmt.Errorf("read archive: %w", x.src.err)
	}
	return fmt.Errorf("%w: entry %q: %w", ErrInvalid, f.Name, err)
}

// syncDirs fsyncs every directory created, deepest first, so each is
// durable before the entry naming it in its parent.
func (x *extractor) syncDirs() error {
	dirs := make([]string, 0, len(x.dirs))
	for d := range x.dirs {
		dirs = append(dirs, d)
	}
	depth := func(d string) int {
		if d == "." {
			return 0
		}
		return strings.Count(d, "/") + 1
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return cmp.Or(cmp.Compare(depth(b), depth(a)), cmp.Compare(a, b))
	})
	for _, d := range dirs {
		if err := syncDir(x.root, d); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs directory dir of root.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(filepath.FromSlash(dir))
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(wrapIf("sync directory "+dir, err), wrapIf("close directory "+dir, d.Close()))
}

// wrapIf wraps err with op, or returns nil for a nil err.
func wrapIf(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
