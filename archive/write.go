package archive

import (
	"archive/zip"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
)

// Source is the directory tree to archive.
type Source struct {
	// Root is the absolute directory archived. A symlink to a directory
	// is followed; symlinks inside it are not.
	Root string
	// Replace maps a path relative to Root ('/'-separated) to an absolute
	// file archived in its place, such as a database snapshot (or the live
	// database file itself, while its owner keeps it from changing). The
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
	// files changed size during the backup). Calls never overlap, but they
	// may come from a goroutine other than Write's caller.
	Progress func(done, total int64)
	// Workers is how many goroutines compress at once; zero or less means
	// GOMAXPROCS (plus one with ISA-L, see [DeflateEngine]), at most 8. Memory in use grows with it, not with the
	// size of the files: at most about 5 MiB per worker, plus 4 MiB.
	Workers int
	// ReplacedRead, if set, is called once every file of Source.Replace
	// has been read to its end and closed (at once if there are none):
	// they are archived first, so from then on the caller may let them
	// change. It is called from a goroutine other than Write's caller, and
	// not at all if Write fails first.
	ReplacedRead func()
	// Engine chooses the deflate engine; EngineAuto (the zero value) uses
	// ISA-L where it loads.
	Engine Engine
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
// src.Root with '/', with Modified set to the file's modification time: the
// layout PocketBase restores. Each file is deflated (standard method 8, at
// the speed of level 1) unless its first 64 KiB do not shrink by at least
// 5%, in which case it is stored: photos and other compressed media cost
// almost no compression time. Symlinks and other non-regular files are skipped, and so
// is a file that vanishes between the walk and its reading. A file whose
// name a zip cannot carry safely (see [ValidName]) fails the whole archive
// rather than being silently dropped.
//
// Write walks the tree once up front to plan the entries and the total for
// opts.Progress. Then one goroutine reads the files in order, 1 MiB chunks
// at a time, opts.Workers goroutines compress the chunks (the chunks of a
// large file independently, as one valid deflate stream), and the calling
// goroutine writes them to w in order; a bounded number of chunks is in
// flight. A cancelled ctx returns ctx.Err() promptly. On error, w holds a
// partial archive without a central directory, which the caller discards.
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
	prog := &progress{fn: opts.Progress, total: total}
	c := opts.Engine.codec()
	p := newPipeline(root, prog, compressWorkers(opts.Workers, c), c)
	p.replacedRead = opts.ReplacedRead
	stats, err := p.run(ctx, zw, entries)
	if err != nil {
		return stats, err
	}
	// Close only on success: a central directory written after a failure
	// would make a partial archive look complete.
	if err := zw.Close(); err != nil {
		return stats, fmt.Errorf("finish archive: %w", err)
	}
	prog.finish()
	return stats, nil
}

// maxDefaultWorkers caps the default WriteOptions.Workers and Extract's
// workers: past it, memory grows for little gain.
const maxDefaultWorkers = 8

// compressWorkers returns n, or the default for n <= 0: one more than
// workerCount's with a codec that calls into C, which the bench found
// faster (see bench/NOTES.md). Likely because a call into C keeps its
// scheduler slot until the runtime hands it off, which leaves the reader
// and the writer goroutines waiting.
func compressWorkers(n int, c codec) int {
	if n > 0 {
		return n
	}
	if c.callsC() {
		return min(workerCount(0)+1, maxDefaultWorkers)
	}
	return workerCount(0)
}

// workerCount returns n, or the default for n <= 0.
func workerCount(n int) int {
	if n > 0 {
		return n
	}
	return max(1, min(runtime.GOMAXPROCS(0), maxDefaultWorkers))
}

// plan walks the tree under root once and returns the files to archive,
// the replacements first, each group sorted by name, with their total size.
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
	// Replacements first: they may be live files held still for the
	// archive (see WriteOptions.ReplacedRead), which should be let go soon.
	slices.SortFunc(entries, func(a, b entry) int {
		if ra, rb := a.abs != "", b.abs != ""; ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.name, b.name)
	})

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
