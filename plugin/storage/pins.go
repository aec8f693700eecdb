package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Pinner is implemented by stores that keep a pin with each object, so
// that the pin travels with the backups (another host over the same
// storage, or a restored data directory, sees it). Stores that implement
// it report Object.Pinned from List and Stat, and Delete removes the pin
// with its object. The built-in stores implement it; storagetest checks
// any store that does.
type Pinner interface {
	// SetPinned pins or unpins key; an error wrapping shared.ErrNotFound
	// when key does not exist. Setting a pin twice is no error.
	SetPinned(ctx context.Context, key string, pinned bool) error
}

var (
	_ Pinner = (*localStore)(nil)
	_ Pinner = (*blobStore)(nil)
)

// localPinPrefix starts the local store's pin sidecars: ".pin-" and the
// hex SHA-256 of the key (a key may be as long as a file name can be).
// Dot names are never keys, so List never shows them as backups.
const localPinPrefix = ".pin-"

func localPinName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return localPinPrefix + hex.EncodeToString(sum[:])
}

// SetPinned implements Pinner with an empty sidecar file beside the
// object, created or removed, the directory fsynced.
func (s *localStore) SetPinned(ctx context.Context, key string, pinned bool) error {
	if _, err := s.lstat("pin", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pin %q: %w", key, err)
	}
	root, err := s.root()
	if err != nil {
		return fsError("pin", key, err)
	}
	defer root.Close()
	name := localPinName(key)
	if pinned {
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return fsError("pin", key, pathless(err))
		}
		if err := f.Close(); err != nil {
			return fsError("pin", key, pathless(err))
		}
	} else if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError("unpin", key, pathless(err))
	}
	if err := root.Sync(); err != nil {
		return fmt.Errorf("pin %q: sync directory: %w", key, err)
	}
	return nil
}

// localPinned reports whether key's pin sidecar is among names.
func localPinned(names map[string]bool, key string) bool {
	return names[localPinName(key)]
}

// removeLocalPin removes key's pin sidecar, if any, through root.
func removeLocalPin(root storeRoot, key string) error {
	if err := root.Remove(localPinName(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// blobPinDir holds the blob store's pins: an empty object
// ".pins/<key>" per pinned key. List's delimiter hides the folder, and a
// dot name is never a key.
const blobPinDir = ".pins/"

// SetPinned implements Pinner with a marker object under .pins/.
func (s *blobStore) SetPinned(ctx context.Context, key string, pinned bool) error {
	if _, err := s.Stat(ctx, key); err != nil {
		return err
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	if pinned {
		return s.failKey(cctx, "pin", key, s.bucket.WriteAll(cctx, blobPinDir+key, nil, &blob.WriterOptions{ContentType: "application/octet-stream"}))
	}
	err := s.bucket.Delete(cctx, blobPinDir+key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		err = nil
	}
	return s.failKey(cctx, "unpin", key, err)
}

// blobPins returns the pinned keys: one listing of .pins/, paged.
func (s *blobStore) blobPins(ctx context.Context) (map[string]bool, error) {
	pins := map[string]bool{}
	opts := &blob.ListOptions{Prefix: blobPinDir, Delimiter: "/"}
	for token := blob.FirstPageToken; ; {
		page, next, err := s.listPage(ctx, token, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			if key := strings.TrimPrefix(o.Key, blobPinDir); !o.IsDir && ValidKey(key) {
				pins[key] = true
			}
		}
		if len(next) == 0 {
			return pins, nil
		}
		token = next
	}
}

// blobPinned reports whether key has a pin marker.
func (s *blobStore) blobPinned(ctx context.Context, key string) (bool, error) {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	ok, err := s.bucket.Exists(cctx, blobPinDir+key)
	if err != nil {
		return false, s.failKey(cctx, "stat pin", key, err)
	}
	return ok, nil
}

// removeBlobPin removes key's pin marker, if any.
func (s *blobStore) removeBlobPin(ctx context.Context, key string) error {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.bucket.Delete(cctx, blobPinDir+key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.failKey(cctx, "unpin", key, err)
}
