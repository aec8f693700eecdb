package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// The local store keeps an object's digest in a hidden sidecar file beside
// it: ".sha256-" and the SHA-256 of the key (so that any key fits in a
// file name), holding the key, the object's size and its digest. Names
// starting with '.' are never keys, so List never shows a sidecar as a
// backup. The sidecar is written durably (temp file, fsync, rename, the
// directory fsynced with the object's rename) and removed with the object;
// one whose key or size does not match the object is ignored.
const digestPrefix = ".sha256-"

// maxSidecar caps what is read of a sidecar file.
const maxSidecar = 4 << 10

// sidecar is a digest sidecar's content.
type sidecar struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// sidecarName is the name of key's digest sidecar.
func sidecarName(key string) string {
	h := sha256.Sum256([]byte(key))
	return digestPrefix + hex.EncodeToString(h[:])
}

// readDigest returns the digest recorded for key and an object of size
// bytes, or "" when there is none (or it does not match).
func readDigest(root storeRoot, key string, size int64) string {
	name := sidecarName(key)
	fi, err := root.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxSidecar {
		return ""
	}
	f, err := root.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, fi.Size())
	if n, err := f.ReadAt(buf, 0); n != len(buf) && err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	var sc sidecar
	if json.Unmarshal(buf, &sc) != nil || sc.Key != key || sc.Size != size || !ValidSHA256(sc.SHA256) {
		return ""
	}
	return sc.SHA256
}

// writeDigest writes key's sidecar durably but for the directory's fsync,
// which the caller does: temp file (locked, so a concurrent cleanup leaves
// it), write, fsync, rename over any old sidecar.
func writeDigest(root storeRoot, sc sidecar) error {
	data, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := tmpPrefix + hex.EncodeToString(rnd[:])
	f, err := createLocked(root, tmp, rnd[:])
	if err != nil {
		return fmt.Errorf("digest sidecar: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = root.Rename(tmp, sidecarName(sc.Key))
	}
	cerr := f.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("digest sidecar: %w", err)
	}
	return nil
}

// removeDigest removes key's sidecar, if any.
func removeDigest(root storeRoot, key string) error {
	if err := root.Remove(sidecarName(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove digest sidecar: %w", err)
	}
	return nil
}

// isSidecar reports whether a directory entry's name is a digest sidecar.
func isSidecar(name string) bool { return strings.HasPrefix(name, digestPrefix) }

// SetSHA256 implements DigestWriter.
func (w *localWriter) SetSHA256(sum string) error {
	if w.done {
		return fmt.Errorf("digest %q: %w", w.key, errWriterDone)
	}
	if err := checkSHA256(w.key, sum); err != nil {
		return err
	}
	w.sha256 = sum
	return nil
}

var _ DigestWriter = (*localWriter)(nil)

var _ DigestRecorder = (*localStore)(nil)

// RecordSHA256 implements DigestRecorder.
func (s *localStore) RecordSHA256(ctx context.Context, key string, size int64, sum string) error {
	if err := checkSHA256(key, sum); err != nil {
		return err
	}
	o, err := s.Stat(ctx, key)
	if err != nil {
		return err
	}
	if o.Size != size || o.SHA256 != "" {
		return nil
	}
	root, err := s.root()
	if err != nil {
		return fmt.Errorf("record digest %q: %w", key, err)
	}
	defer root.Close()
	if err := writeDigest(root, sidecar{Key: key, Size: size, SHA256: sum}); err != nil {
		return fmt.Errorf("record digest %q: %w", key, err)
	}
	if err := root.Sync(); err != nil {
		return fmt.Errorf("record digest %q: sync directory: %w", key, err)
	}
	return nil
}
