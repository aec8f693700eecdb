package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// manifestStore keeps each backup as a plain file, DIR/YYYY-MM/KEY (the
// month it was committed, UTC), and the list of backups in DIR/manifest.json.
//
// The manifest is the truth: an object exists if and only if the manifest
// lists it, and every file it lists is complete and never changes. So a
// commit writes the file first (temp file, fsync, rename into a month
// folder no listed object uses for that key, fsync) and only then replaces
// the manifest. A commit never replaces a listed object (ErrExists).
// A crash leaves at worst a file that the manifest does not list; the next
// open removes such leftovers.
//
// All stores of one directory in a process share one state (see dirs); two
// processes must not use one directory at once.
type manifestStore struct {
	dir   string
	state *dirState
	once  sync.Once
}

var _ storage.Store = (*manifestStore)(nil)

// dirState is the manifest of one directory, in memory, and the lock that
// orders the changes to it.
type dirState struct {
	mu      sync.Mutex
	refs    int              // open stores; guarded by dirsMu
	objects map[string]entry // guarded by mu
}

var (
	dirsMu sync.Mutex
	dirs   = map[string]*dirState{}
)

// staleTemp is the age past which a temp file is a leftover of a crash.
const staleTemp = 24 * time.Hour

// openStore opens the store in dir, creating it (0700) if missing.
func openStore(dir string) (*manifestStore, error) {
	dirsMu.Lock()
	defer dirsMu.Unlock()
	st := dirs[dir]
	if st == nil {
		if err := os.MkdirAll(filepath.Join(dir, tempDir), 0o700); err != nil {
			return nil, fmt.Errorf("open %s://: %w", Scheme, pathless(err))
		}
		objects, err := loadManifest(dir)
		if err != nil {
			return nil, fmt.Errorf("open %s://: %w", Scheme, err)
		}
		if err := removeLeftovers(dir, objects); err != nil {
			return nil, fmt.Errorf("open %s://: remove leftovers: %w", Scheme, pathless(err))
		}
		st = &dirState{objects: objects}
		dirs[dir] = st
	}
	st.refs++
	return &manifestStore{dir: dir, state: st}, nil
}

// removeLeftovers removes what a crash may have left: files in the month
// folders that the manifest does not list, and old temp files. It runs
// before the first store of dir opens, so no commit is under way.
func removeLeftovers(dir string, objects map[string]entry) error {
	listed := make(map[string]bool, len(objects))
	for _, e := range objects {
		listed[e.Path] = true
	}
	months, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, m := range months {
		if !m.IsDir() || strings.HasPrefix(m.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, m.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if !listed[m.Name()+"/"+f.Name()] && f.Type().IsRegular() {
				if err := os.Remove(filepath.Join(dir, m.Name(), f.Name())); err != nil {
					return err
				}
			}
		}
		_ = os.Remove(filepath.Join(dir, m.Name())) // if now empty
	}
	temps, err := os.ReadDir(filepath.Join(dir, tempDir))
	if err != nil {
		return err
	}
	for _, t := range temps {
		if fi, err := t.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(dir, tempDir, t.Name()))
		}
	}
	return nil
}

// List implements storage.Store.
func (s *manifestStore) List(ctx context.Context) ([]storage.Object, error) {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	objs := make([]storage.Object, 0, len(s.state.objects))
	for _, e := range s.state.objects {
		objs = append(objs, object(e))
	}
	return objs, nil
}

func object(e entry) storage.Object {
	return storage.Object{Key: e.Key, Size: e.Size, Modified: e.Modified, SHA256: e.SHA256}
}

// lookup returns key's entry, or an error wrapping shared.ErrNotFound. The
// caller holds s.state.mu.
func (s *manifestStore) lookup(op, key string) (entry, error) {
	if !storage.ValidKey(key) {
		return entry{}, fmt.Errorf("%s %q: invalid key: %w", op, key, shared.ErrInvalid)
	}
	e, ok := s.state.objects[key]
	if !ok {
		return entry{}, fmt.Errorf("%s %q: %w", op, key, shared.ErrNotFound)
	}
	return e, nil
}

// Stat implements storage.Store.
func (s *manifestStore) Stat(ctx context.Context, key string) (storage.Object, error) {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	e, err := s.lookup("stat", key)
	if err != nil {
		return storage.Object{}, err
	}
	return object(e), nil
}

// NewRangeReader implements storage.Store. The file is opened under the
// lock, so no commit or delete removes it in between; once open, it reads
// to the end even if the key is overwritten or deleted meanwhile.
func (s *manifestStore) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.state.mu.Lock()
	e, err := s.lookup("read", key)
	var f *os.File
	if err == nil {
		f, err = os.Open(filepath.Join(s.dir, filepath.FromSlash(e.Path)))
		if err != nil {
			err = fmt.Errorf("read %q: %w", key, pathless(err))
		}
	}
	s.state.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		f.Close()
		return nil, fmt.Errorf("read %q: negative offset: %w", key, shared.ErrInvalid)
	}
	if length < 0 {
		length = math.MaxInt64 - offset
	}
	return &fileReader{SectionReader: io.NewSectionReader(f, offset, length), f: f}, nil
}

// fileReader reads a section of a file and closes it.
type fileReader struct {
	*io.SectionReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

// NewWriter implements storage.Store: the bytes go to a temp file in
// DIR/.tmp until Commit.
func (s *manifestStore) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	if !storage.ValidKey(key) {
		return nil, fmt.Errorf("write %q: invalid key: %w", key, shared.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %q: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tempDir), "w-*")
	if err != nil {
		return nil, fmt.Errorf("write %q: %w", key, pathless(err))
	}
	return &writer{s: s, ctx: ctx, key: key, tmp: f.Name(), f: f, hash: sha256.New()}, nil
}

// Delete implements storage.Store: the manifest first, then the file.
func (s *manifestStore) Delete(ctx context.Context, key string) error {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	e, err := s.lookup("delete", key)
	if err != nil {
		return err
	}
	delete(s.state.objects, key)
	if err := saveManifest(s.dir, s.state.objects); err != nil {
		s.state.objects[key] = e
		return fmt.Errorf("delete %q: %w", key, err)
	}
	s.removeFile(e.Path)
	return nil
}

// removeFile removes the file of a version the manifest no longer lists,
// and its month folder if that is now empty. Failures only leave a leftover
// for the next open, so they are not reported.
func (s *manifestStore) removeFile(rel string) {
	month := filepath.Join(s.dir, filepath.Dir(filepath.FromSlash(rel)))
	if os.Remove(filepath.Join(s.dir, filepath.FromSlash(rel))) == nil {
		_ = syncDir(month)
	}
	if os.Remove(month) == nil {
		_ = syncDir(s.dir)
	}
}

// Close implements storage.Store. Writers still open may commit.
func (s *manifestStore) Close() error {
	s.once.Do(func() {
		dirsMu.Lock()
		defer dirsMu.Unlock()
		if s.state.refs--; s.state.refs == 0 {
			delete(dirs, s.dir)
		}
	})
	return nil
}

// freePath returns where a new version of key committed at t goes: the
// month folder, or "YYYY-MM.2", ".3"… when the key's current version or a
// leftover sits there. The caller holds s.state.mu.
func (s *manifestStore) freePath(key string, t time.Time) string {
	month := t.UTC().Format("2006-01")
	cur := s.state.objects[key].Path
	for n := 1; ; n++ {
		folder := month
		if n > 1 {
			folder += "." + strconv.Itoa(n)
		}
		p := folder + "/" + key
		if p == cur {
			continue
		}
		if _, err := os.Lstat(filepath.Join(s.dir, folder, key)); errors.Is(err, fs.ErrNotExist) {
			return p
		}
	}
}

// writer is an object being written to a temp file. It keeps the writer's
// context because Write and Commit take none.
type writer struct {
	s    *manifestStore
	ctx  context.Context
	key  string
	tmp  string   // the temp file's path
	f    *os.File // nil once closed
	hash hash.Hash
	size int64
	err  error // first write error; sticky
	done bool  // Commit or Abort was called
	// want is the digest the caller computed (SetSHA256); Commit refuses
	// an object whose own digest differs.
	want string
}

var _ storage.DigestWriter = (*writer)(nil)

// SetSHA256 implements storage.DigestWriter. The store hashes what it
// writes anyway (the manifest keeps every object's digest); the caller's
// digest is a cross-check of the bytes that arrived.
func (w *writer) SetSHA256(sum string) error {
	if w.done {
		return fmt.Errorf("digest %q: %w", w.key, errDone)
	}
	if !storage.ValidSHA256(sum) {
		return fmt.Errorf("digest %q: not a lowercase hex SHA-256: %w", w.key, shared.ErrInvalid)
	}
	w.want = sum
	return nil
}

var errDone = fmt.Errorf("writer already committed or aborted: %w", shared.ErrInvalid)

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %q: %w", w.key, errDone)
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("write %q: %w", w.key, err)
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.hash.Write(p[:n])
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write %q: %w", w.key, pathless(err))
	}
	return n, w.err
}

// Commit implements storage.Writer: fsync the temp file, rename it into its
// month folder, fsync that, then list it in the manifest. If Commit fails,
// nothing of the write remains listed.
func (w *writer) Commit() error {
	if w.done {
		return fmt.Errorf("commit %q: %w", w.key, errDone)
	}
	w.done = true
	err := w.err
	if err == nil {
		if cerr := w.ctx.Err(); cerr != nil {
			err = fmt.Errorf("commit %q: %w", w.key, cerr)
		}
	}
	if err == nil && w.want != "" && w.want != hex.EncodeToString(w.hash.Sum(nil)) {
		err = fmt.Errorf("the bytes stored do not match the digest given: %w", shared.ErrInvalid)
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return errors.Join(fmt.Errorf("commit %q: %w", w.key, pathless(err)), w.discard())
	}
	if err := w.install(); err != nil {
		return errors.Join(fmt.Errorf("commit %q: %w", w.key, err), w.discard())
	}
	return nil
}

// install moves the finished temp file into place and lists it, unless
// the key is listed already.
func (w *writer) install() error {
	s := w.s
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	if _, had := s.state.objects[w.key]; had {
		return shared.ErrExists
	}
	now := time.Now().UTC()
	rel := s.freePath(w.key, now)
	month := filepath.Join(s.dir, filepath.Dir(filepath.FromSlash(rel)))
	if _, err := os.Stat(month); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(month, 0o700); err != nil {
			return pathless(err)
		}
		if err := syncDir(s.dir); err != nil {
			return pathless(err)
		}
	}
	e, err := newEntry(entry{
		Key: w.key, Path: rel, Size: w.size, Modified: now,
		SHA256: hex.EncodeToString(w.hash.Sum(nil)),
	})
	if err != nil {
		return err
	}
	final := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.Rename(w.tmp, final); err != nil {
		return pathless(err)
	}
	s.state.objects[w.key] = e
	err = syncDir(month)
	if err == nil {
		err = saveManifest(s.dir, s.state.objects)
	}
	if err != nil {
		delete(s.state.objects, w.key)
		_ = os.Remove(final)
		return pathless(err)
	}
	return nil
}

// Abort implements storage.Writer. After Commit or Abort it does nothing.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	return w.discard()
}

// discard removes the temp file.
func (w *writer) discard() error {
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discard %q: %w", w.key, pathless(err))
	}
	return nil
}
