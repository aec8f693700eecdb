package plugin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Service implements shared.Backups over the stores an Opener opens.
type Service struct {
	log    hclog.Logger
	limits archive.Limits
	// engine and syncEachFile are passed to every Write and Extract (see
	// Config); the zero values when not served by Serve.
	engine       archive.Engine
	syncEachFile bool
	// stores keeps the opened stores by URL (mem:// stores live only
	// there), at most DefaultMaxStores of them.
	stores *storeCache
	// keys encrypt new backups and decrypt stored ones; nil: encryption
	// off. keysErr, when set, is why the keys given cannot be used: every
	// operation needing them fails rather than store in clear.
	keys    *atrest.Keys
	keysErr error
	// heads caches whether stored objects are encrypted.
	heads headCache
}

var (
	_ shared.Backups      = (*Service)(nil)
	_ shared.Pinner       = (*Service)(nil)
	_ shared.StoredOpener = (*Service)(nil)
)

// SetKeys turns encryption at rest on (keys not nil) or off. Call it
// before serving.
func (s *Service) SetKeys(keys *atrest.Keys) { s.keys = keys }

// NewService returns a Service opening stores with open.
func NewService(open storage.Opener, log hclog.Logger) *Service {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	onCloseError := func(url string, err error) {
		log.Warn("closing an unused storage failed", "storage", shared.Redact(url), "error", err)
	}
	return &Service{log: log, limits: archive.DefaultLimits(), stores: newStoreCache(open, DefaultMaxStores, onCloseError)}
}

// Close closes every open store; one still in use closes when its
// operation ends.
func (s *Service) Close() error {
	return s.stores.close()
}

// store returns the open store for url, opening it if needed, and the
// func that releases it, which the caller must call once done with it.
func (s *Service) store(ctx context.Context, url string) (storage.Store, func(), error) {
	return s.stores.acquire(ctx, url)
}

func toInfo(o storage.Object) shared.BackupInfo {
	return shared.BackupInfo{Key: o.Key, Size: o.Size, Modified: o.Modified, SHA256: o.SHA256, Pinned: o.Pinned}
}

// List implements shared.Backups.
func (s *Service) List(ctx context.Context, storageURL string) ([]shared.BackupInfo, error) {
	st, release, err := s.store(ctx, storageURL)
	if err != nil {
		return nil, err
	}
	defer release()
	objs, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	out, err := s.describeAll(ctx, st, storageURL, objs)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}

// Stat implements shared.Backups.
func (s *Service) Stat(ctx context.Context, storageURL, key string) (shared.BackupInfo, error) {
	st, o, release, err := s.object(ctx, "stat", storageURL, key)
	if err != nil {
		return shared.BackupInfo{}, err
	}
	defer release()
	info, err := s.describe(ctx, st, storageURL, o)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("stat %q: %w", key, err)
	}
	return info, nil
}

// SetPinned implements shared.Pinner for stores that keep pins
// (storage.Pinner); others answer shared.ErrUnsupported.
func (s *Service) SetPinned(ctx context.Context, storageURL, key string, pinned bool) (shared.BackupInfo, error) {
	st, release, err := s.store(ctx, storageURL)
	if err != nil {
		return shared.BackupInfo{}, err
	}
	defer release()
	p, ok := st.(storage.Pinner)
	if !ok {
		return shared.BackupInfo{}, fmt.Errorf("pin %q: this storage keeps no pins: %w", key, shared.ErrUnsupported)
	}
	if err := p.SetPinned(ctx, key, pinned); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("pin %q: %w", key, err)
	}
	o, err := st.Stat(ctx, key)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("pin %q: %w", key, err)
	}
	return toInfo(o), nil
}

// object opens the store and stats key in it; op names the operation in
// errors. Unless it fails, the caller must call release once done with
// the store.
func (s *Service) object(ctx context.Context, op, storageURL, key string) (_ storage.Store, _ storage.Object, release func(), _ error) {
	st, release, err := s.store(ctx, storageURL)
	if err != nil {
		return nil, storage.Object{}, nil, err
	}
	o, err := st.Stat(ctx, key)
	if err != nil {
		release()
		return nil, storage.Object{}, nil, fmt.Errorf("%s %q: %w", op, key, err)
	}
	return st, o, release, nil
}

// Create implements shared.Backups: the zip streams straight into a storage
// writer that is committed only when the archive is complete.
func (s *Service) Create(ctx context.Context, req shared.CreateRequest, progress shared.ProgressFunc) (shared.BackupInfo, error) {
	defer releaseMemory()
	if !filepath.IsAbs(req.DataDir) {
		return shared.BackupInfo{}, fmt.Errorf("create: data dir must be absolute: %w", shared.ErrInvalid)
	}
	keys, err := s.keysOrError()
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("create %q: %w", req.Key, err)
	}
	st, release, err := s.store(ctx, req.StorageURL)
	if err != nil {
		return shared.BackupInfo{}, err
	}
	defer release()
	if err := s.ensureFree(ctx, st, req.Key); err != nil {
		return shared.BackupInfo{}, err
	}
	start := time.Now()
	w, err := st.NewWriter(ctx, req.Key)
	if err != nil {
		return shared.BackupInfo{}, fmt.Errorf("create %q: %w", req.Key, err)
	}
	digest := sha256.New() // of the stored bytes
	stats, stored, err := WriteBackup(ctx, w, digest, keys, archive.Source{Root: req.DataDir, Replace: req.Replace, Exclude: req.Exclude},
		archive.WriteOptions{Progress: progressFunc(progress), ReplacedRead: s.replacedRead(req, start), Engine: s.engine})
	if err != nil {
		return shared.BackupInfo{}, errors.Join(fmt.Errorf("create %q: %w", req.Key, err), w.Abort())
	}
	if err := setDigest(w, hexSum(digest)); err != nil {
		return shared.BackupInfo{}, errors.Join(fmt.Errorf("create %q: %w", req.Key, err), w.Abort())
	}
	if err := w.Commit(); err != nil {
		return shared.BackupInfo{}, fmt.Errorf("create %q: commit: %w", req.Key, err)
	}
	elapsed := time.Since(start)
	s.log.Info("backup created", "key", req.Key, "files", stats.Files, "bytes_in", stats.Bytes,
		"bytes_out", stored, "seconds", elapsed.Seconds(), "mib_per_s", mibPerSecond(stats.Bytes, elapsed),
		"deflate", s.engine.Name(), "encrypted", keys != nil)
	return s.Stat(ctx, req.StorageURL, req.Key)
}

// replacedRead passes the archive's "replacements read" on to the host,
// which may then let its frozen databases change again.
func (s *Service) replacedRead(req shared.CreateRequest, start time.Time) func() {
	if req.ReplacedRead == nil || len(req.Replace) == 0 {
		return nil
	}
	return func() {
		s.log.Debug("database files read", "key", req.Key, "seconds", time.Since(start).Seconds())
		req.ReplacedRead()
	}
}

// ensureFree returns ErrExists when key is already stored.
func (s *Service) ensureFree(ctx context.Context, st storage.Store, key string) error {
	_, err := st.Stat(ctx, key)
	switch {
	case err == nil:
		return fmt.Errorf("%q: %w", key, shared.ErrExists)
	case errors.Is(err, shared.ErrNotFound):
		return nil
	default:
		return fmt.Errorf("stat %q: %w", key, err)
	}
}

// Open implements shared.Backups: an encrypted backup is decrypted on the
// way out, offset and length counting plaintext bytes.
func (s *Service) Open(ctx context.Context, storageURL, key string, offset, length int64) (*shared.Download, error) {
	st, o, release, err := s.object(ctx, "open", storageURL, key)
	if err != nil {
		return nil, err
	}
	info, err := s.describe(ctx, st, storageURL, o)
	if err != nil {
		release()
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	if !info.Encrypted {
		release()
		return s.OpenStored(ctx, storageURL, key, offset, length)
	}
	plain, size, closeSrc, err := s.openDecrypted(ctx, st, o)
	if err != nil {
		release()
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	info.Size = size
	if offset < 0 || offset > size {
		release()
		return nil, errors.Join(fmt.Errorf("open %q: offset %d outside 0..%d: %w", key, offset, size, shared.ErrInvalid), closeSrc())
	}
	if length < 0 || offset+length > size {
		length = size - offset
	}
	body := &sectionCloser{SectionReader: io.NewSectionReader(plain, offset, length), close: closeSrc}
	return &shared.Download{Info: info, Offset: offset, Length: length,
		ReadCloser: &releasingReader{ReadCloser: body, release: release}}, nil
}

// OpenStored implements shared.StoredOpener: the bytes as stored.
func (s *Service) OpenStored(ctx context.Context, storageURL, key string, offset, length int64) (*shared.Download, error) {
	st, o, release, err := s.object(ctx, "open", storageURL, key)
	if err != nil {
		return nil, err
	}
	// The download keeps the store until it is closed.
	keep := false
	defer func() {
		if !keep {
			release()
		}
	}()
	if offset < 0 || offset > o.Size {
		return nil, fmt.Errorf("open %q: offset %d outside 0..%d: %w", key, offset, o.Size, shared.ErrInvalid)
	}
	if length < 0 || offset+length > o.Size {
		length = o.Size - offset
	}
	r, err := st.NewRangeReader(ctx, key, offset, length)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	keep = true
	dl := &shared.Download{Info: toInfo(o), Offset: offset, Length: length, ReadCloser: &releasingReader{ReadCloser: r, release: release}}
	if lf, ok := st.(storage.LocalFiler); ok {
		if path, err := lf.LocalPath(ctx, key); err == nil {
			dl.Path = path
		}
	}
	return dl, nil
}

// Delete implements shared.Backups.
func (s *Service) Delete(ctx context.Context, storageURL, key string) error {
	st, release, err := s.store(ctx, storageURL)
	if err != nil {
		return err
	}
	defer release()
	if err := st.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// sectionCloser is a section of a decrypted object; Close closes what the
// object is read from.
type sectionCloser struct {
	*io.SectionReader
	close func() error
}

func (s *sectionCloser) Read(p []byte) (int, error) {
	n, err := s.SectionReader.Read(p)
	if err != nil && err != io.EOF {
		err = archiveError(err)
	}
	return n, err
}

func (s *sectionCloser) Close() error { return s.close() }

// releasingReader releases its store when closed.
type releasingReader struct {
	io.ReadCloser
	release func()
}

func (r *releasingReader) Close() error {
	defer r.release()
	return r.ReadCloser.Close()
}

// progressFunc adapts a shared.ProgressFunc to archive's callback.
func progressFunc(p shared.ProgressFunc) func(done, total int64) {
	if p == nil {
		return nil
	}
	return func(done, total int64) { p(shared.Progress{Done: done, Total: total}) }
}

func mibPerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// removeFile removes a temp file, ignoring a file already gone.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
