package storage

import (
	"context"
	"fmt"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// A blob store keeps an object's digest in the name of an empty marker
// object, ".sha256/<key>/<hex digest>". The digest is known only once the
// last byte is written, while a provider's object metadata (S3, GCS,
// Azure) is sent when the upload starts; rewriting it afterwards means a
// server-side copy of the whole object (and S3 copies at most 5 GiB at a
// time). A marker is written after the object's upload and removed before
// the object, so a crash leaves an object without digest, never a digest
// without its object. Keys have no '/', so the name parses unambiguously,
// and one paged listing of ".sha256/" finds every digest for List; the
// store's own listing, with '/' as delimiter, sees the folder and skips it.
const markerDir = ".sha256/"

func markerPrefix(key string) string { return markerDir + key + "/" }

// SetSHA256 implements DigestWriter.
func (w *blobWriter) SetSHA256(sum string) error {
	if w.finished {
		return fmt.Errorf("digest %q: %w", w.key, errWriterDone)
	}
	if err := checkSHA256(w.key, sum); err != nil {
		return err
	}
	w.sha256 = sum
	return nil
}

var _ DigestWriter = (*blobWriter)(nil)

// markers lists the digest markers under prefix, as key → digest. A key
// with several markers (a crash between writing one and removing an old
// one) has no known digest.
func (s *blobStore) markers(ctx context.Context, prefix string) (map[string]string, error) {
	out := make(map[string]string)
	seen := make(map[string]int)
	opts := &blob.ListOptions{Prefix: prefix}
	for token := blob.FirstPageToken; ; {
		page, next, err := s.listPage(ctx, token, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			key, sum, ok := strings.Cut(strings.TrimPrefix(o.Key, markerDir), "/")
			if !ok || !ValidKey(key) || !ValidSHA256(sum) {
				continue
			}
			seen[key]++
			out[key] = sum
		}
		if len(next) == 0 {
			break
		}
		token = next
	}
	for key, n := range seen {
		if n > 1 {
			delete(out, key)
		}
	}
	return out, nil
}

// digestOf returns key's recorded digest, or "".
func (s *blobStore) digestOf(ctx context.Context, key string) (string, error) {
	m, err := s.markers(ctx, markerPrefix(key))
	if err != nil {
		return "", err
	}
	return m[key], nil
}

// removeMarkers deletes every digest marker of key.
func (s *blobStore) removeMarkers(ctx context.Context, key string) error {
	m, err := s.markersRaw(ctx, markerPrefix(key))
	if err != nil {
		return err
	}
	for _, name := range m {
		cctx, cancel := s.callContext(ctx)
		err := s.bucket.Delete(cctx, name)
		cancel()
		if err != nil && gcerrors.Code(err) == gcerrors.NotFound {
			continue
		}
		if err != nil {
			return s.fail(ctx, "delete digest", key, err)
		}
	}
	return nil
}

// markersRaw lists the names of the objects under prefix.
func (s *blobStore) markersRaw(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	opts := &blob.ListOptions{Prefix: prefix}
	for token := blob.FirstPageToken; ; {
		page, next, err := s.listPage(ctx, token, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			names = append(names, o.Key)
		}
		if len(next) == 0 {
			return names, nil
		}
		token = next
	}
}

// writeMarker replaces key's digest markers with one for sum.
func (s *blobStore) writeMarker(ctx context.Context, key, sum string) error {
	if err := s.removeMarkers(ctx, key); err != nil {
		return err
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	err := s.bucket.WriteAll(cctx, markerPrefix(key)+sum, nil, &blob.WriterOptions{ContentType: "application/octet-stream", BeforeWrite: s.beforeWrite})
	return s.fail(cctx, "write digest", key, err)
}

var _ DigestRecorder = (*blobStore)(nil)

// RecordSHA256 implements DigestRecorder.
func (s *blobStore) RecordSHA256(ctx context.Context, key string, size int64, sum string) error {
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
	return s.writeMarker(ctx, key, sum)
}
