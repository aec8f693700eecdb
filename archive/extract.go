package archive

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbackup/pocketbackup/internal/durable"
)

// Extract checks the zip archive of size bytes in r (see [Check]) and
// extracts it into dest, an existing empty directory. It returns Check's
// summary: what it extracted, and in Summary.Skipped the rollback journals
// (see [RollbackJournal]) it left out, for the caller to log.
//
// Everything is written through [os.Root], so no name can reach outside
// dest; parent directories are created as needed (0755), all before the
// first file, and files are created anew (0644, never overwriting). No
// header is trusted: at most the declared size of an entry is copied, and an
// entry that yields more or fewer bytes, or content whose CRC-32 differs
// from the central directory's, fails with [ErrInvalid]; bytes actually
// written count against limits.MaxTotalBytes. Everything written is durable
// when Extract returns: on Linux 5.8 and later through one syncfs(2) at the
// end (ExtractOptions.SyncEachFile turns it off), elsewhere by an fsync of each
// file as it is finished and of each directory at the end.
//
// Files are extracted by several goroutines at once (GOMAXPROCS, at most 8),
// each reading its own entries from r, which must therefore allow
// concurrent ReadAt calls (as an *os.File does). Deflated entries are
// inflated with ISA-L's igzip when it is on the machine (see
// [DeflateEngine]), else with github.com/klauspost/compress/flate.
//
// progress, if set, is called as by [Write] with total = Summary.TotalBytes;
// calls never overlap. Extract checks ctx during copies and returns
// ctx.Err() once it is cancelled. On error, what was written stays in dest,
// for the caller to remove with its staging directory; but if an entry
// fails, the files of the entries after it in archive order are removed, so
// that dest holds, as if the entries had been extracted one at a time, the
// entries before the failing one and part of that one.
func Extract(ctx context.Context, r io.ReaderAt, size int64, dest string, limits Limits, progressFn func(done, total int64)) (Summary, error) {
	return ExtractWith(ctx, r, size, dest, ExtractOptions{Limits: limits, Progress: progressFn})
}

// ExtractOptions tunes [ExtractWith].
type ExtractOptions struct {
	// Limits bounds the archive (see [Check]); zero fields take the
	// defaults.
	Limits Limits
	// Progress, if set, is called as by [Write] with total =
	// Summary.TotalBytes; calls never overlap.
	Progress func(done, total int64)
	// Engine chooses the inflate engine; EngineAuto (the zero value) uses
	// ISA-L where it loads.
	Engine Engine
	// SyncEachFile makes the extraction durable by an fsync of each file
	// and directory even where one syncfs(2) would do (Linux 5.8+).
	SyncEachFile bool
	// RootFilesDone, if set, is called once every file entry at the
	// archive's root (the databases of a backup) is written, while
	// entries in folders may still be extracting, so a caller can start
	// checking them; they are not durable yet. Not called when an entry
	// fails first. Calls never overlap those of Progress.
	RootFilesDone func()
}

// ExtractWith is [Extract] with all its options.
func ExtractWith(ctx context.Context, r io.ReaderAt, size int64, dest string, opts ExtractOptions) (Summary, error) {
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	limits := opts.Limits.withDefaults()
	src := &sourceReader{r: r, size: size}
	zr, err := openZip(src, size)
	if err != nil {
		return Summary{}, err
	}
	// One central directory serves the check and the extraction, so a
	// source that changes in between cannot slip past the check.
	sum, err := check(zr, size, limits)
	if err != nil {
		return Summary{}, err
	}
	return sum, extractChecked(ctx, zr, src, sum, dest, limits, opts)
}

// extractChecked extracts zr, which passed check with summary sum, into
// dest (see Extract) with limits, which have their defaults.
func extractChecked(ctx context.Context, zr *zip.Reader, src *sourceReader, sum Summary, dest string, limits Limits, opts ExtractOptions) error {
	c := opts.Engine.codec()
	zr.RegisterDecompressor(zip.Deflate, c.decompressor())

	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer root.Close()
	if err := requireEmpty(root); err != nil {
		return err
	}

	x := &extractor{
		root:    root,
		src:     src,
		limits:  limits,
		prog:    &progress{fn: opts.Progress, total: sum.TotalBytes},
		dirs:    map[string]bool{".": true},
		workers: workerCount(0),
		slot:    make(chan struct{}, 1),
		codec:   c,
		syncer:  newFSSyncer(root, opts.SyncEachFile),

		rootFilesDone: opts.RootFilesDone,
	}
	if x.syncer != nil {
		defer x.syncer.close()
	}
	var files []*zip.File
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if RollbackJournal(f.Name) {
			continue // reported in sum.Skipped
		}
		dir, isDir := strings.CutSuffix(f.Name, "/")
		if !isDir {
			dir = path.Dir(f.Name)
			files = append(files, f)
		}
		if err := x.mkdirAll(dir); err != nil {
			return err
		}
	}
	for _, f := range files {
		if isRootFile(f) {
			x.rootLeft.Add(1)
		}
	}
	if x.rootLeft.Load() == 0 {
		x.rootWritten()
	}
	if err := x.files(ctx, files); err != nil {
		return err
	}
	if x.syncer != nil {
		if err := x.syncer.sync(); err != nil {
			return fmt.Errorf("sync extracted files: %w", err)
		}
	} else if err := x.syncDirs(); err != nil {
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
	dirs    map[string]bool // directories created, "." included
	written atomic.Int64    // content bytes written so far

	progMu sync.Mutex // serializes prog and its callback
	prog   *progress

	// failed is the index in files of the first entry (in archive order)
	// known to have failed; entries after it stop.
	failed atomic.Int64

	workers int           // goroutines extracting files, and inflating a large one
	slot    chan struct{} // held by the one large entry inflated on several goroutines
	codec   codec         // inflates the large entry's pieces and its sequential rest
	syncer  *fsSyncer     // nil: fsync each file and directory; else one syncfs at the end
	// sequentialFrom counts the large entries that were inflated
	// sequentially from some point on (see inflateParallel).
	sequentialFrom atomic.Int64

	rootLeft      atomic.Int64 // root file entries not yet written
	rootFilesDone func()       // ExtractOptions.RootFilesDone
}

// errSuperseded stops the extraction of an entry after one that failed.
var errSuperseded = errors.New("an earlier entry failed")

// files extracts the regular file entries of files, in archive order, with
// up to x.workers goroutines. On failure it returns the error of the first
// entry that failed in archive order, after removing the files of the
// entries after it.
func (x *extractor) files(ctx context.Context, files []*zip.File) error {
	x.failed.Store(math.MaxInt64)
	var (
		next    atomic.Int64
		mu      sync.Mutex
		errs    = map[int]error{}
		created = make([]bool, len(files)) // written only by the entry's goroutine
		wg      sync.WaitGroup
	)
	for range min(x.workers, len(files)) {
		wg.Go(func() {
			buf := make([]byte, bufSize)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || int64(i) > x.failed.Load() || ctx.Err() != nil {
					return
				}
				err := x.file(ctx, files[i], i, buf, &created[i])
				if err == nil {
					if isRootFile(files[i]) && x.rootLeft.Add(-1) == 0 {
						x.rootWritten()
					}
					continue
				}
				mu.Lock()
				errs[i] = err
				mu.Unlock()
				storeMin(&x.failed, int64(i))
				return
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	first := x.failed.Load()
	if first == math.MaxInt64 {
		return nil
	}
	var cleanup []error
	for i := int(first) + 1; i < len(files); i++ {
		if created[i] {
			cleanup = append(cleanup, wrapIf("remove "+files[i].Name, x.root.Remove(filepath.FromSlash(files[i].Name))))
		}
	}
	return errors.Join(append([]error{errs[int(first)]}, cleanup...)...)
}

// storeMin sets a to v if v is smaller.
func storeMin(a *atomic.Int64, v int64) {
	for cur := a.Load(); v < cur; cur = a.Load() {
		if a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// addProgress counts n more bytes extracted.
// isRootFile reports whether f is a file entry at the archive's root.
func isRootFile(f *zip.File) bool { return !strings.Contains(f.Name, "/") }

// rootWritten tells the caller that every root file entry is written.
func (x *extractor) rootWritten() {
	if x.rootFilesDone == nil {
		return
	}
	x.progMu.Lock()
	defer x.progMu.Unlock()
	x.rootFilesDone()
}

func (x *extractor) addProgress(n int64) {
	x.progMu.Lock()
	defer x.progMu.Unlock()
	x.prog.add(n)
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

// file extracts regular file entry f, number i in archive order, through
// buf; its parent exists. It sets *created once the file exists.
func (x *extractor) file(ctx context.Context, f *zip.File, i int, buf []byte, created *bool) (err error) {
	declared := int64(f.UncompressedSize64) // at most MaxTotalBytes: checked
	// A large entry waits for the slot rather than going sequential: a
	// 1 GiB data.db right after a 32 MiB auxiliary.db would otherwise be
	// inflated on one core while the small one has the slot.
	parallel := f.Method == zip.Deflate && f.CompressedSize64 >= parallelMinCompressed && x.workers > 1
	if parallel {
		select {
		case x.slot <- struct{}{}:
			defer func() { <-x.slot }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var rc io.ReadCloser
	if !parallel {
		if rc, err = f.Open(); err != nil {
			return x.readErr(f, err)
		}
		defer rc.Close()
	}

	out, err := x.root.OpenFile(filepath.FromSlash(f.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.Name, err)
	}
	*created = true
	defer func() {
		if out != nil {
			err = errors.Join(err, out.Close())
		}
	}()
	w := &writeback{f: out}

	var (
		n          int64
		sum        uint32
		rerr, werr error
	)
	if parallel {
		n, sum, rerr = x.inflateParallel(ctx, f, i, w, x.workers)
		if we := (*writeError)(nil); errors.As(rerr, &we) {
			rerr, werr = nil, we.err
		}
	} else {
		crc := crc32.NewIEEE()
		body := io.TeeReader(&supersedable{r: io.LimitReader(rc, declared), x: x, i: int64(i)}, crc)
		n, rerr, werr = copyBuffer(ctx, w, body, buf, x.addProgress)
		sum = crc.Sum32()
		if rerr == nil && werr == nil && n == declared {
			rerr = expectEOF(rc)
		}
	}
	written := x.written.Add(n)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return fmt.Errorf("write %s: %w", f.Name, werr)
	case errors.Is(rerr, errSuperseded):
		return rerr
	case rerr != nil:
		return x.readErr(f, rerr)
	case n != declared:
		return fmt.Errorf("%w: entry %q: %d bytes of data, %d declared", ErrInvalid, f.Name, n, declared)
	case written > x.limits.MaxTotalBytes:
		return fmt.Errorf("%w: entry %q: total size over %d bytes", ErrInvalid, f.Name, x.limits.MaxTotalBytes)
	case sum != f.CRC32:
		return fmt.Errorf("%w: entry %q: CRC-32 %08x, declared %08x", ErrInvalid, f.Name, sum, f.CRC32)
	}

	if x.syncer != nil {
		w.flush() // the syncfs at the end waits for it
	} else if err := out.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name, err)
	}
	cerr := out.Close()
	out = nil
	if cerr != nil {
		return fmt.Errorf("close %s: %w", f.Name, cerr)
	}
	return nil
}

// writeback writes to a file and asks the system to start writing its
// pages to disk every durable.WritebackEvery bytes, so that the fsync at
// the end of a large file waits for its tail only.
type writeback struct {
	f         *os.File
	n, synced int64
}

// flush starts writing what the last Write calls left dirty.
func (w *writeback) flush() {
	if w.n > w.synced {
		durable.StartWriteback(w.f, w.synced, w.n-w.synced)
		w.synced = w.n
	}
}

func (w *writeback) Write(p []byte) (int, error) {
	m, err := w.f.Write(p)
	w.n += int64(m)
	if w.n-w.synced >= durable.WritebackEvery {
		durable.StartWriteback(w.f, w.synced, w.n-w.synced)
		w.synced = w.n
	}
	return m, err
}

// supersedable reads r until an entry before entry i fails.
type supersedable struct {
	r io.Reader
	x *extractor
	i int64
}

func (s *supersedable) Read(p []byte) (int, error) {
	if s.x.failed.Load() < s.i {
		return 0, errSuperseded
	}
	return s.r.Read(p)
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
	if serr := x.src.failure(); serr != nil {
		return fmt.Errorf("read archive: %w", serr)
	}
	return fmt.Errorf("%w: entry %q: %w", ErrInvalid, f.Name, err)
}

// syncDirs fsyncs every directory created with up to x.workers goroutines,
// deepest first: a directory is durable before the entry naming it in its
// parent.
func (x *extractor) syncDirs() error {
	depth := func(d string) int {
		if d == "." {
			return 0
		}
		return strings.Count(d, "/") + 1
	}
	var levels [][]string
	for d := range x.dirs {
		n := depth(d)
		for len(levels) <= n {
			levels = append(levels, nil)
		}
		levels[n] = append(levels[n], d)
	}
	for _, dirs := range slices.Backward(levels) {
		slices.Sort(dirs)
		var (
			next atomic.Int64
			errs = make([]error, len(dirs))
			wg   sync.WaitGroup
		)
		for range min(x.workers, len(dirs)) {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(dirs); i = int(next.Add(1) - 1) {
					if err := durable.SyncDirIn(x.root, dirs[i]); err != nil {
						errs[i] = fmt.Errorf("sync directory %s: %w", dirs[i], err)
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// wrapIf wraps err with op, or returns nil for a nil err.
func wrapIf(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
