package archive

import (
	"archive/zip"
	"cmp"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
)

// Source is the directory tree to archive.
type Source struct {
	// Root is the absolute directory archived. A symlink to a directory
	// is followed; symlinks inside it are not.
	Root string
	// Replace maps a path relative to Root ('/'-separated) to an absolute
	// file archived in its place, such as a database snapshot. The
	// replaced file's "-wal" and "-shm" companions (rel+"-wal",
	// rel+"-shm") are left out. A replacement is archived even if the
	// path it replaces does not exist, unless it lies under Exclude.
	Replace map[string]string
	// Exclude lists paths relative to Root ('/'-separated) left out with
	// everything below them.
	Exclude []string
}

// WriteOptions tunes [Write].
type WriteOptions struct {
	// Progress, if set, is called with the bytes of file content read so
	// far and the total planned by the walk, about every MiB, and once at
	// the end with done == total (the bytes actually archived, in case
	// files changed size during the backup).
	Progress func(done, total int64)
}

// Stats counts what [Write] archived.
type Stats struct {
	Files int
	Bytes int64 // uncompressed content bytes
}

// entry is one file planned for the archive.
type entry struct {
	name string // archive name: relative, '/'-separated
	abs  string // absolute file archived in its place (a replacement), or "" to read name under the root
	size int64  // as measured by the walk, for progress
}

// errVanished reports a file that disappeared between the walk and its
// reading; Write leaves it out.
var errVanished = errors.New("file vanished")

// Write streams a zip of src to w and reports what it archived.
//
// Entries are regular files only (no directory entries), named relative to
// src.Root with '/', deflated at level 1, with Modified set to the file's
// modification time: the layout PocketBase restores. Symlinks and other
// non-regular files are skipped, and so is a file that vanishes between the
// walk and its reading. A file whose name a zip cannot carry safely (see
// [ValidName]) fails the whole archive rather than being silently dropped.
//
// Write walks the tree once up front to plan the entries and the total for
// opts.Progress, then streams each file through one reused buffer, checking
// ctx between files and during copies; a cancelled ctx returns ctx.Err().
// On error, w holds a partial archive without a central directory, which
// the caller discards.
func Write(ctx context.Context, w io.Writer, src Source, opts WriteOptions) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	root, err := os.OpenRoot(src.Root)
	if err != nil {
		return Stats{}, fmt.Errorf("open source: %w", err)
	}
	defer root.Close()

	entries, total, err := plan(ctx, root, src)
	if err != nil {
		return Stats{}, err
	}

	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, compressFlate)
	ew := &entryWriter{
		zw:   zw,
		root: root,
		buf:  make([]byte, bufSize),
		prog: &progress{fn: opts.Progress, total: total},
	}
	var stats Stats
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		n, err := ew.write(ctx, e)
		if errors.Is(err, errVanished) {
			continue
		}
		if err != nil {
			return stats, err
		}
		stats.Files++
		stats.Bytes += n
	}
	// Close only on success: a central directory written after a failure
	// would make a partial archive look complete.
	if err := zw.Close(); err != nil {
		return stats, fmt.Errorf("finish archive: %w", err)
	}
	ew.prog.finish()
	return stats, nil
}

// plan walks the tree under root once and returns the files to archive,
// sorted by name, with their total size.
func plan(ctx context.Context, root *os.Root, src Source) ([]entry, int64, error) {
	exclude := make(map[string]bool, len(src.Exclude))
	for _, p := range src.Exclude {
		rel, ok := cleanRel(p)
		if !ok {
			return nil, 0, fmt.Errorf("exclude %q: not a relative path", p)
		}
		exclude[rel] = true
	}
	replace := make(map[string]string, len(src.Replace))
	companions := make(map[string]bool, 2*len(src.Replace))
	for p, abs := range src.Replace {
		rel, ok := cleanRel(p)
		if !ok {
			return nil, 0, fmt.Errorf("replace %q: not a relative file path", p)
		}
		replace[rel] = abs
		companions[rel+"-wal"] = true
		companions[rel+"-shm"] = true
	}

	var entries []entry
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != "." && errors.Is(err, fs.ErrNotExist) {
				return nil // vanished during the walk
			}
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if exclude[p] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if _, ok := replace[p]; ok {
			if d.IsDir() {
				return fmt.Errorf("replace %q: is a directory", p)
			}
			return nil // archived from its replacement below
		}
		if d.IsDir() || !d.Type().IsRegular() || companions[p] {
			return nil
		}
		if !ValidName(p) {
			return fmt.Errorf("file %q: name cannot be stored safely in a zip", p)
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		entries = append(entries, entry{name: p, size: info.Size()})
		return nil
	}
	if err := fs.WalkDir(root.FS(), ".", walk); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, 0, ctxErr
		}
		return nil, 0, err
	}

	for rel, abs := range replace {
		if underAny(rel, exclude) {
			continue
		}
		info, err := os.Stat(abs)
		if err != nil {
			return nil, 0, fmt.Errorf("replace %q: %w", rel, err)
		}
		if !info.Mode().IsRegular() {
			return nil, 0, fmt.Errorf("replace %q: %s is not a regular file", rel, abs)
		}
		entries = append(entries, entry{name: rel, abs: abs, size: info.Size()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.name, b.name) })

	// A replacement could still collide with the tree (a replaced "a/b"
	// where "a" is a file): refuse to write an archive Check would reject.
	var t tree
	var total int64
	for _, e := range entries {
		if err := t.add(e.name); err != nil {
			return nil, 0, fmt.Errorf("plan %q: %w", e.name, err)
		}
		total += e.size
	}
	return entries, total, nil
}

// cleanRel returns a caller's relative path in the form the walk uses
// ("a/b" for "a/b/" or "a/./b"), reporting false for a path that is not
// relative or leaves Root.
func cleanRel(p string) (string, bool) {
	p = path.Clean(filepath.ToSlash(p))
	return p, p != "." && ValidName(p)
}

// underAny reports whether rel or one of its parents is in set.
func underAny(rel string, set map[string]bool) bool {
	for p := rel; p != "."; p = path.Dir(p) {
		if set[p] {
			return true
		}
	}
	return false
}

// entryWriter writes planned entries into a zip, one at a time. It is the
// one place entries are written: a parallel writer would compress entries
// ahead of time and hand them to zip.Writer.CreateRaw here.
type entryWriter struct {
	zw   *zip.Writer
	root *os.Root
	buf  []byte
	prog *progress
}

// write archives one entry and returns its content bytes. It returns
// errVanished if the file is gone (or no longer a regular file) and
// ctx.Err() unwrapped if ctx ends during the copy.
func (ew *entryWriter) write(ctx context.Context, e entry) (int64, error) {
	var f *os.File
	var err error
	if e.abs != "" {
		f, err = os.Open(e.abs)
	} else {
		f, err = ew.root.Open(filepath.FromSlash(e.name))
		if errors.Is(err, fs.ErrNotExist) {
			return 0, errVanished
		}
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", e.name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", e.name, err)
	}
	if !info.Mode().IsRegular() {
		if e.abs != "" {
			return 0, fmt.Errorf("replace %q: %s is not a regular file", e.name, e.abs)
		}
		return 0, errVanished
	}

	hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: info.ModTime()}
	hdr.SetMode(info.Mode().Perm())
	zf, err := ew.zw.CreateHeader(hdr)
	if err != nil {
		return 0, fmt.Errorf("add %s: %w", e.name, err)
	}
	n, rerr, werr := copyBuffer(ctx, zf, f, ew.buf, ew.prog.add)
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if rerr != nil {
		return n, fmt.Errorf("read %s: %w", e.name, rerr)
	}
	if werr != nil {
		return n, fmt.Errorf("write %s: %w", e.name, werr)
	}
	return n, nil
}

// flateWriters holds level-1 deflate writers for reuse: each costs about a
// megabyte to allocate, and a data directory may hold many small files.
var flateWriters sync.Pool

// compressFlate is the zip.Compressor for zip.Deflate: level 1
// (flate.BestSpeed), as PocketBase writes its archives.
func compressFlate(w io.Writer) (io.WriteCloser, error) {
	fw, _ := flateWriters.Get().(*flate.Writer)
	if fw == nil {
		var err error
		if fw, err = flate.NewWriter(w, flate.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		fw.Reset(w)
	}
	return &pooledFlate{fw: fw}, nil
}

// pooledFlate returns its flate.Writer to the pool when closed.
type pooledFlate struct {
	fw *flate.Writer
}

func (p *pooledFlate) Write(b []byte) (int, error) {
	if p.fw == nil {
		return 0, errors.New("write after close")
	}
	return p.fw.Write(b)
}

func (p *pooledFlate) Close() error {
	if p.fw == nil {
		return nil
	}
	err := p.fw.Close()
	p.fw.Reset(io.Discard) // drop the reference to the archive's writer
	flateWriters.Put(p.fw)
	p.fw = nil
	return err
}
