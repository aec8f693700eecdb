package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Encryption at rest happens here, in the plugin: the zip streams through
// age on its way into storage and back out of it, so the storage only
// ever sees the age file. Whether a stored backup is encrypted is read
// from its first bytes (age's magic line), never from its name: the same
// keys list both kinds, and a host without a key still lists, deletes and
// (stored form) downloads encrypted backups. A listing reads those bytes
// only when the plugin holds keys (once per object and plugin process):
// without encryption a listing costs what it always did.

// describeWorkers bounds the head reads a listing makes at once.
const describeWorkers = 8

// cryptError turns atrest's failures into the kinds that cross the
// boundary: no key and wrong key, or ErrInvalid for damaged bytes.
func cryptError(err error) error {
	switch {
	case errors.Is(err, atrest.ErrNoKey):
		return shared.ErrNoKey
	case errors.Is(err, atrest.ErrWrongKey):
		return shared.ErrWrongKey
	case errors.Is(err, atrest.ErrCorrupt):
		return fmt.Errorf("%w: %w", shared.ErrInvalid, err)
	}
	return err
}

// keysOrError returns the keys to encrypt with (nil: encryption off), or
// why the keys the plugin was given cannot be used.
func (s *Service) keysOrError() (*atrest.Keys, error) {
	if s.keysErr != nil {
		return nil, fmt.Errorf("encryption keys: %w", s.keysErr)
	}
	return s.keys, nil
}

// headInfo is what an object's first bytes told, cached by what identifies
// one version of an object.
type headInfo struct {
	encrypted bool
	plainSize int64
}

type headKey struct {
	url, key string
	size     int64
	modified time.Time
}

// headCache remembers what describe read, so a listing reads each
// object's head once per plugin process.
type headCache struct {
	mu sync.Mutex
	m  map[headKey]headInfo
}

// maxHeadCache bounds the cache; past it, it starts again empty.
const maxHeadCache = 100_000

func (c *headCache) get(k headKey) (headInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[k]
	return h, ok
}

func (c *headCache) put(k headKey, h headInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxHeadCache {
		c.m = map[headKey]headInfo{}
	}
	c.m[k] = h
}

// describe returns o as the host sees it: for an encrypted object, Size is
// the plaintext's (what a download returns) and StoredSize the object's.
func (s *Service) describe(ctx context.Context, st storage.Store, url string, o storage.Object) (shared.BackupInfo, error) {
	info := toInfo(o)
	hk := headKey{url: url, key: o.Key, size: o.Size, modified: o.Modified}
	h, ok := s.heads.get(hk)
	if !ok {
		var err error
		if h, err = readHead(ctx, st, o); err != nil {
			return info, err
		}
		s.heads.put(hk, h)
	}
	if h.encrypted {
		info.Encrypted, info.Size, info.StoredSize = true, h.plainSize, o.Size
	}
	return info, nil
}

// readHead reads an object's first bytes and tells whether it is an age
// file, and its plaintext size.
func readHead(ctx context.Context, st storage.Store, o storage.Object) (headInfo, error) {
	n := min(int64(atrest.HeadLen), o.Size)
	if n < int64(len(atrest.Magic)) {
		return headInfo{}, nil
	}
	r, err := st.NewRangeReader(ctx, o.Key, 0, n)
	if err != nil {
		return headInfo{}, fmt.Errorf("read head of %q: %w", o.Key, err)
	}
	defer r.Close()
	head := make([]byte, n)
	if _, err := io.ReadFull(r, head); err != nil {
		return headInfo{}, fmt.Errorf("read head of %q: %w", o.Key, err)
	}
	if !atrest.IsEncrypted(head) {
		return headInfo{}, nil
	}
	size, ok := atrest.PlainSize(head, o.Size)
	if !ok {
		// A header this long is not one of ours; a decryption says more.
		size = o.Size
	}
	return headInfo{encrypted: true, plainSize: size}, nil
}

// describeAll describes objs, a few at a time.
func (s *Service) describeAll(ctx context.Context, st storage.Store, url string, objs []storage.Object) ([]shared.BackupInfo, error) {
	out := make([]shared.BackupInfo, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, describeWorkers)
	var wg sync.WaitGroup
	for i, o := range objs {
		if s.keys == nil {
			out[i] = toInfo(o)
			continue
		}
		if h, ok := s.heads.get(headKey{url: url, key: o.Key, size: o.Size, modified: o.Modified}); ok && !h.encrypted {
			out[i] = toInfo(o)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = s.describe(ctx, st, url, o)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, shared.ErrNotFound) {
			// Deleted since the listing: leave it out.
			out[i].Key = ""
		} else if err != nil {
			return nil, err
		}
	}
	kept := out[:0]
	for _, info := range out {
		if info.Key != "" {
			kept = append(kept, info)
		}
	}
	return kept, nil
}

// openDecrypted returns the plaintext of an encrypted object, readable at
// any offset: a local file is read in place, a remote object through range
// reads that stay open while reads follow one another.
func (s *Service) openDecrypted(ctx context.Context, st storage.Store, o storage.Object) (io.ReaderAt, int64, func() error, error) {
	keys, err := s.keysOrError()
	if err != nil {
		return nil, 0, nil, err
	}
	var src io.ReaderAt
	closeSrc := func() error { return nil }
	if lf, ok := st.(storage.LocalFiler); ok {
		if path, err := lf.LocalPath(ctx, o.Key); err == nil {
			if f, err := os.Open(path); err == nil {
				src, closeSrc = f, f.Close
			}
		}
	}
	if src == nil {
		sr := &sequentialReaderAt{ctx: ctx, store: st, key: o.Key, size: o.Size}
		src, closeSrc = sr, sr.Close
	}
	plain, size, err := keys.DecryptReaderAt(src, o.Size)
	if err != nil {
		return nil, 0, nil, errors.Join(cryptError(err), closeSrc())
	}
	return plain, size, closeSrc, nil
}

// sequentialReaderAt reads a stored object at any offset through one open
// range read, reopened only when a read does not start where the last one
// ended: decrypting a download from start to end opens it three times
// (header, last chunk, then the payload in order), not once per chunk.
type sequentialReaderAt struct {
	ctx   context.Context
	store storage.Store
	key   string
	size  int64

	mu  sync.Mutex
	r   io.ReadCloser
	pos int64
}

func (s *sequentialReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.size {
		return 0, io.EOF
	}
	if s.r == nil || off != s.pos {
		if s.r != nil {
			_ = s.r.Close()
			s.r = nil
		}
		r, err := s.store.NewRangeReader(s.ctx, s.key, off, -1)
		if err != nil {
			return 0, fmt.Errorf("range read %q at %d: %w", s.key, off, err)
		}
		s.r, s.pos = r, off
	}
	want := min(int64(len(p)), s.size-off)
	n, err := io.ReadFull(s.r, p[:want])
	s.pos += int64(n)
	if err != nil {
		_ = s.r.Close()
		s.r = nil
		return n, fmt.Errorf("range read %q at %d: %w", s.key, off, err)
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (s *sequentialReaderAt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r == nil {
		return nil
	}
	err := s.r.Close()
	s.r = nil
	return err
}

// plainArchive returns the archive in ra (of size bytes) as a zip to
// check or extract: ra itself when it is a plain zip, its decryption when
// it is an age file.
func (s *Service) plainArchive(ra io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	head := make([]byte, min(int64(len(atrest.Magic)), size))
	if _, err := ra.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, 0, fmt.Errorf("read head: %w", err)
	}
	if !atrest.IsEncrypted(head) {
		return ra, size, nil
	}
	keys, err := s.keysOrError()
	if err != nil {
		return nil, 0, err
	}
	plain, n, err := keys.DecryptReaderAt(ra, size)
	if err != nil {
		return nil, 0, cryptError(err)
	}
	return plain, n, nil
}

// archiveError maps an error of checking or extracting a (maybe
// decrypted) archive to the kinds that cross the boundary.
func archiveError(err error) error {
	if errors.Is(err, atrest.ErrCorrupt) || errors.Is(err, atrest.ErrNoKey) || errors.Is(err, atrest.ErrWrongKey) {
		return cryptError(err)
	}
	return err
}
