package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/shared"
)

// localParams are the query parameters a file:// URL may carry. They are
// gocloud fileblob options that people copy from its docs; the local store
// has no use for them and ignores them.
var localParams = map[string]bool{"metadata": true, "no_tmp_dir": true, "create_dir": true}

// tmpPrefix starts the name of every file being written. Names starting with
// '.' are never valid keys, so List skips them (and leftovers of a crash).
const tmpPrefix = ".tmp-"

// openLocal opens the directory a file:// URL names, creating it 0700 if
// missing.
func openLocal(u *url.URL) (Store, error) {
	w := where(u)
	if u.User != nil || u.Opaque != "" || (u.Host != "" && u.Host != "localhost") {
		return nil, fmt.Errorf("open %s: want file:///absolute/dir: %w", w, shared.ErrInvalid)
	}
	for k := range u.Query() {
		if !localParams[k] {
			return nil, fmt.Errorf("open %s: unsupported query parameter (allowed: metadata, no_tmp_dir, create_dir): %w",
				w, shared.ErrInvalid)
		}
	}
	dir := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("open %s: directory must be an absolute path: %w", w, shared.ErrInvalid)
	}
	dir = filepath.Clean(dir)
	s, err := newLocalStore(osFS{}, dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: create directory: %w", w, pathless(err))
	}
	return s, nil
}

// newLocalStore returns the store over dir, creating it (see makeDir).
// It also fsyncs the parent of every folder on the way to dir that was
// there already: a process killed just after creating one may not have
// made it durable, and a commit into it would then not survive a power
// cut.
func newLocalStore(fsys fileSystem, dir string) (*localStore, error) {
	if err := makeDir(fsys, dir); err != nil {
		return nil, err
	}
	syncAncestors(fsys, dir)
	return &localStore{dir: dir, fsys: fsys}, nil
}

// syncAncestors fsyncs the parent of dir and of each folder above it.
// Errors are ignored: a folder the plugin may not read, or a filesystem
// that cannot fsync a directory, leaves only that narrow window open,
// and must not stop the store from opening.
func syncAncestors(fsys fileSystem, dir string) {
	for d := dir; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if parent, err := fsys.OpenRoot(filepath.Dir(d)); err == nil {
			_ = parent.Sync()
			_ = parent.Close()
		}
	}
}

// makeDir creates dir and missing parents with mode 0700, then fsyncs the
// parent of each one it created so that they survive a crash. An existing
// directory is left as it is.
func makeDir(fsys fileSystem, dir string) error {
	var missing []string // deepest first
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := fsys.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("not a directory: %w", shared.ErrInvalid)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return err
		}
		missing = append(missing, d)
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range missing {
		parent, err := fsys.OpenRoot(filepath.Dir(d))
		if err != nil {
			return err
		}
		if err := errors.Join(parent.Sync(), parent.Close()); err != nil {
			return err
		}
	}
	return nil
}

// pathless drops the path from a *fs.PathError, keeping the operation and
// the cause (so errors.Is still works): Open's errors name no path.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// localStore is a Store over one local directory. Each key is a regular file
// directly in it; writes go to a hidden temp file beside the target and are
// renamed over it after an fsync. All access goes through an os.Root (osFS,
// the fileSystem a real store uses), so no name (or symlink) can reach
// outside the directory.
//
// The directory is resolved by path for every operation rather than pinned
// once: an operator may remove it, or mount another filesystem there, while
// the plugin runs. A missing directory lists as empty and a write creates it.
type localStore struct {
	dir  string
	fsys fileSystem // osFS{} but in power-cut tests
}

// errNoDir marks a store directory that does not exist (right now).
var errNoDir = errors.New("store directory missing")

// root opens the store's directory for one operation; the caller closes it.
func (s *localStore) root() (storeRoot, error) {
	r, err := s.fsys.OpenRoot(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoDir
	}
	if err != nil {
		return nil, pathless(err)
	}
	return r, nil
}

var _ Store = (*localStore)(nil)

// List implements Store with one directory read. Dot-files (temp files,
// crash leftovers), directories, symlinks and other non-regular files, and
// names that are not valid keys are skipped.
func (s *localStore) List(ctx context.Context) ([]Object, error) {
	root, err := s.root()
	if errors.Is(err, errNoDir) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	defer root.Close()
	entries, err := root.ReadDir()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var temps []string
	pins := map[string]bool{}
	sidecars := make(map[string]bool)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) || strings.HasPrefix(e.Name(), newPrefix) {
			temps = append(temps, e.Name())
		}
		if strings.HasPrefix(e.Name(), localPinPrefix) {
			pins[e.Name()] = true
		}
		if isSidecar(e.Name()) {
			sidecars[e.Name()] = true
		}
	}
	if len(temps) > 0 {
		removeStaleTemps(root, temps)
	}
	objs := make([]Object, 0, len(entries))
	for i, e := range entries {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("list: %w", err)
			}
		}
		if !e.Type().IsRegular() || !ValidKey(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		o := Object{Key: e.Name(), Size: fi.Size(), Modified: fi.ModTime(), Pinned: localPinned(pins, e.Name())}
		if sidecars[sidecarName(o.Key)] {
			o.SHA256 = readDigest(root, o.Key, o.Size)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// lstat returns key's file info, or an error wrapping shared.ErrNotFound if
// key is missing or is not a regular file (List would not show it either).
func (s *localStore) lstat(op, key string) (fs.FileInfo, error) {
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	root, err := s.root()
	if errors.Is(err, errNoDir) {
		return nil, fmt.Errorf("%s %q: %w", op, key, shared.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer root.Close()
	fi, err := root.Lstat(key)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
		return nil, fmt.Errorf("%s %q: %w", op, key, shared.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return fi, nil
}

// Stat implements Store.
func (s *localStore) Stat(ctx context.Context, key string) (Object, error) {
	fi, err := s.lstat("stat", key)
	if err != nil {
		return Object{}, err
	}
	o := Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()}
	if root, err := s.root(); err == nil {
		_, perr := root.Lstat(localPinName(key))
		o.Pinned = perr == nil
		o.SHA256 = readDigest(root, key, o.Size)
		root.Close()
	}
	return o, nil
}

// NewRangeReader implements Store. An offset at or past the end gives an
// empty reader. The reader keeps reading the version it opened even if the
// key is overwritten or deleted meanwhile.
func (s *localStore) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if _, err := s.lstat("read", key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("read %q: negative offset: %w", key, shared.ErrInvalid)
	}
	root, err := s.root()
	if errors.Is(err, errNoDir) {
		return nil, fmt.Errorf("read %q: %w", key, shared.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	f, err := root.OpenFile(key, os.O_RDONLY, 0)
	root.Close() // an open file outlives its root
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %q: %w", key, shared.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if length < 0 {
		length = math.MaxInt64 - offset
	}
	return &fileReader{SectionReader: io.NewSectionReader(f, offset, length), f: f}, nil
}

// fileReader reads a section of a file and closes it.
type fileReader struct {
	*io.SectionReader
	f storeFile
}

func (r *fileReader) Close() error { return r.f.Close() }

// NewWriter implements Store: it creates a temp file (.tmp-<random>, mode
// 0600) in the directory.
func (s *localStore) NewWriter(ctx context.Context, key string) (Writer, error) {
	if err := checkKey("write", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %q: %w", key, err)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:]) // never fails
	tmp := tmpPrefix + hex.EncodeToString(rnd[:])
	if err := makeDir(s.fsys, s.dir); err != nil {
		return nil, fsError("write", key, pathless(err))
	}
	root, err := s.root()
	if err != nil {
		return nil, fsError("write", key, err)
	}
	f, err := createLocked(root, tmp, rnd[:])
	if err != nil {
		return nil, errors.Join(fsError("write", key, err), root.Close())
	}
	return &localWriter{root: root, ctx: ctx, key: key, tmp: tmp, f: f}, nil
}

// Delete implements Store, and fsyncs the directory so the deletion lasts.
func (s *localStore) Delete(ctx context.Context, key string) error {
	if _, err := s.lstat("delete", key); err != nil {
		return err
	}
	root, err := s.root()
	if err != nil {
		return fmt.Errorf("delete %q: %w", key, shared.ErrNotFound)
	}
	defer root.Close()
	if err := root.Remove(key); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %q: %w", key, shared.ErrNotFound)
		}
		return fmt.Errorf("delete: %w", err)
	}
	if err := removeDigest(root, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	// The pin goes with its object (a later backup of the same name
	// starts unpinned).
	if err := removeLocalPin(root, key); err != nil {
		return fmt.Errorf("delete %q: remove pin: %w", key, pathless(err))
	}
	if err := root.Sync(); err != nil {
		return fmt.Errorf("delete %q: sync directory: %w", key, err)
	}
	return nil
}

// Close implements Store. The store holds nothing open between
// operations; writers still open keep their own directory handle.
func (s *localStore) Close() error { return nil }

// localWriter writes one temp file. It keeps the writer's context because
// Write and Commit take none: once it is done, writing and committing fail.
type localWriter struct {
	root storeRoot // the directory the temp file is in, closed when done
	ctx  context.Context
	key  string
	tmp  string    // temp file name in the directory
	f    storeFile // nil once closed
	err  error     // first write error; sticky
	done bool      // Commit or Abort was called

	written, flushed int64  // bytes written; bytes handed to write-back
	waited           int64  // bytes written out (not durable: no fsync)
	sha256           string // set by SetSHA256; kept in a sidecar at Commit
}

// ReadAt reads back what was written so far, before Commit: an upload is
// checked as a whole archive in place, without a second copy.
func (w *localWriter) ReadAt(p []byte, off int64) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("read back %q: %w", w.key, errWriterDone)
	}
	return w.f.ReadAt(p, off)
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %q: %w", w.key, errWriterDone)
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("write %q: %w", w.key, err)
		return 0, w.err
	}
	n, err := w.f.Write(p) // a short write always comes with an error
	if err != nil {
		w.err = fsError("write", w.key, err)
	}
	w.written += int64(n)
	if w.written-w.flushed >= durable.PaceWindow {
		w.pace()
	}
	return n, w.err
}

// pace hands the bytes written since the last call to write-back and
// waits for the window before them: at most two windows are in the disk's
// queue at once, so the app's commits (whose fsync, on ext4, also waits
// for data already under write-out) never queue behind a whole archive.
// Not durable: Commit fsyncs.
func (w *localWriter) pace() {
	w.f.StartWriteback(w.flushed, w.written-w.flushed)
	if w.flushed > w.waited {
		w.f.WaitWriteback(w.waited, w.flushed-w.waited)
		w.waited = w.flushed
	}
	w.flushed = w.written
}

// Commit implements Writer: check for write errors, fsync, rename to the
// key (never over an existing object: that fails wrapping shared.ErrExists
// and leaves it untouched), close, fsync the directory. If it fails before
// the rename, the temp file is removed and nothing is stored. If only the final directory fsync fails,
// the object is visible but might not survive a crash; Commit reports that.
func (w *localWriter) Commit() error {
	if w.done {
		return fmt.Errorf("commit %q: %w", w.key, errWriterDone)
	}
	w.done = true
	err := w.err
	if err == nil {
		if cerr := w.ctx.Err(); cerr != nil {
			err = fmt.Errorf("commit %q: %w", w.key, cerr)
		}
	}
	if err == nil {
		err = fsError("commit", w.key, w.f.Sync())
	}
	if err != nil {
		return errors.Join(err, w.discard())
	}
	// Rename while the file is still open and locked: closing first would
	// drop the lock and let a concurrent cleanup take it for a leftover.
	// The rename never replaces an existing object.
	if err := renameNoReplace(w.root, w.tmp, w.key); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w: %w", shared.ErrExists, err)
		}
		return errors.Join(fsError("commit", w.key, err), w.discard())
	}
	// The object is visible now. Its digest goes beside it (a stale
	// sidecar of an earlier object under this key goes), made durable by
	// the same directory fsync as the rename.
	if w.sha256 != "" {
		err = writeDigest(w.root, sidecar{Key: w.key, Size: w.written, SHA256: w.sha256})
	} else {
		err = removeDigest(w.root, w.key)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		_ = w.root.Close()
		return fsError("commit", w.key, err)
	}
	err = w.root.Sync()
	if cerr := w.root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("commit %q: sync directory: %w", w.key, err)
	}
	return nil
}

// Abort implements Writer: it closes and removes the temp file. After Commit
// or Abort it does nothing, so `defer w.Abort()` is safe.
func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.discard()
}

// discard closes the temp file if still open and removes it.
func (w *localWriter) discard() error {
	if w.f != nil {
		_ = w.f.Close() // the file goes next; its close error no longer matters
		w.f = nil
	}
	err := w.root.Remove(w.tmp)
	_ = w.root.Close()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discard %q: %w", w.key, err)
	}
	return nil
}

// createLocked creates the temp file tmp holding its lock from the start:
// it is created as ".new-…", locked, then renamed to tmp (the lock stays
// with the open file), so cleanup never sees an unlocked live temp file.
func createLocked(root storeRoot, tmp string, rnd []byte) (storeFile, error) {
	name := newPrefix + hex.EncodeToString(rnd)
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_ = f.Lock() // best effort: without locks, leftovers just stay hidden
	if err := root.Rename(name, tmp); err != nil {
		f.Close()
		_ = root.Remove(name)
		return nil, err
	}
	return f, nil
}

// fsError wraps a filesystem error from op on key, adding shared.ErrNoSpace
// for ENOSPC. It returns nil for nil.
func fsError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%s %q: %w: %w", op, key, shared.ErrNoSpace, err)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

var _ LocalFiler = (*localStore)(nil)

// LocalPath implements LocalFiler.
func (s *localStore) LocalPath(ctx context.Context, key string) (string, error) {
	if _, err := s.lstat("locate", key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, key), nil
}
