package storage

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"github.com/pocketbackup/pocketbackup/shared"
)

// blobDrivers maps each gocloud scheme we support to a constructor of its
// URL opener. Adding a provider is one entry here (and its import). A fresh
// opener is built for every Open: some, like s3blob's, are mutated by each
// open and would leak settings between buckets if shared.
var blobDrivers = map[string]func() blob.BucketURLOpener{
	memblob.Scheme: func() blob.BucketURLOpener { return &memblob.URLOpener{} },
}

// blobSchemes returns the supported gocloud schemes, sorted.
func blobSchemes() []string {
	s := make([]string, 0, len(blobDrivers))
	for scheme := range blobDrivers {
		s = append(s, scheme)
	}
	sort.Strings(s)
	return s
}

// newBlobMux returns a private URLMux with only our drivers registered, so
// that whatever else registers itself on gocloud's default mux is not
// reachable from a user-supplied URL.
func newBlobMux() *blob.URLMux {
	mux := new(blob.URLMux)
	for scheme, opener := range blobDrivers {
		mux.RegisterBucket(scheme, opener())
	}
	return mux
}

func openBlob(ctx context.Context, rawURL string, u *url.URL) (Store, error) {
	mux := newBlobMux()
	if !mux.ValidBucketScheme(u.Scheme) {
		return nil, fmt.Errorf("open %s: unsupported storage scheme (want file or %s): %w",
			where(u), strings.Join(blobSchemes(), ", "), shared.ErrInvalid)
	}
	b, err := mux.OpenBucketURL(ctx, u)
	if err != nil {
		return nil, newOpenError(rawURL, u, err)
	}
	return &blobStore{bucket: b}, nil
}

// blobStore is a Store over a gocloud.dev/blob bucket.
type blobStore struct {
	bucket *blob.Bucket
}

var _ Store = (*blobStore)(nil)

// List implements Store. It skips "directories", fileblob sidecars, dot-files
// (temp files of other writers) and anything else that is not a valid key.
func (s *blobStore) List(ctx context.Context) ([]Object, error) {
	var objs []Object
	it := s.bucket.List(&blob.ListOptions{Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, blobError("list", "", err)
		}
		if o.IsDir || !ValidKey(o.Key) {
			continue
		}
		objs = append(objs, Object{Key: o.Key, Size: o.Size, Modified: o.ModTime})
	}
}

// Stat implements Store.
func (s *blobStore) Stat(ctx context.Context, key string) (Object, error) {
	if err := checkKey("stat", key); err != nil {
		return Object{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Object{}, blobError("stat", key, err)
	}
	return Object{Key: key, Size: a.Size, Modified: a.ModTime}, nil
}

// NewRangeReader implements Store. Reading from an offset at or past the end
// gives an empty reader, whatever the provider answers to such a range.
func (s *blobStore) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkKey("read", key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("read %q: negative offset: %w", key, shared.ErrInvalid)
	}
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err == nil {
		return r, nil
	}
	if offset > 0 && gcerrors.Code(err) != gcerrors.NotFound {
		// Providers such as S3 refuse a range that starts past the end
		// (HTTP 416); answer as a file would.
		if a, aerr := s.bucket.Attributes(ctx, key); aerr == nil && offset >= a.Size {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	return nil, blobError("read", key, err)
}

// NewWriter implements Store. The write goes to the provider as it is made
// (memblob buffers it); the object appears only when Close succeeds.
func (s *blobStore) NewWriter(ctx context.Context, key string) (Writer, error) {
	if err := checkKey("write", key); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType(key)})
	if err != nil {
		cancel()
		return nil, blobError("write", key, err)
	}
	return &blobWriter{w: w, cancel: cancel, key: key}, nil
}

// Delete implements Store.
func (s *blobStore) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	return blobError("delete", key, s.bucket.Delete(ctx, key))
}

// Close implements Store.
func (s *blobStore) Close() error {
	return s.bucket.Close()
}

// contentType is the MIME type stored with key. Setting one also spares
// gocloud from buffering the first 512 bytes to sniff it.
func contentType(key string) string {
	if strings.EqualFold(path.Ext(key), ".zip") {
		return "application/zip"
	}
	return "application/octet-stream"
}

// blobWriter is a Writer over a blob.Writer. gocloud discards a write whose
// context is cancelled before Close, which is how Abort works.
type blobWriter struct {
	w      *blob.Writer
	cancel context.CancelFunc
	key    string
	done   bool // Commit or Abort was called
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %q: %w", w.key, errWriterDone)
	}
	n, err := w.w.Write(p)
	if err != nil {
		return n, blobError("write", w.key, err)
	}
	return n, nil
}

// Commit implements Writer. If it fails, nothing of the write is stored.
func (w *blobWriter) Commit() error {
	if w.done {
		return fmt.Errorf("commit %q: %w", w.key, errWriterDone)
	}
	w.done = true
	defer w.cancel()
	return blobError("commit", w.key, w.w.Close())
}

// Abort implements Writer. After Commit or Abort it does nothing.
func (w *blobWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.cancel()
	err := w.w.Close()
	switch {
	case err == nil:
		// The driver ignored the cancellation and stored the object.
		return fmt.Errorf("abort %q: the store kept the object despite the cancelled write", w.key)
	case gcerrors.Code(err) == gcerrors.Canceled, gcerrors.Code(err) == gcerrors.DeadlineExceeded:
		// The expected outcome: the upload was abandoned.
		return nil
	default:
		return blobError("abort", w.key, err)
	}
}

// blobError wraps a gocloud error from op on key with the matching kind from
// shared; it returns nil for nil.
func blobError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	name := op
	if key != "" {
		name = fmt.Sprintf("%s %q", op, key)
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%s: %w: %w", name, shared.ErrNotFound, err)
	case gcerrors.InvalidArgument:
		return fmt.Errorf("%s: %w: %w", name, shared.ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// errWriterDone is returned by a Writer used after Commit or Abort.
var errWriterDone = fmt.Errorf("writer already committed or aborted: %w", shared.ErrInvalid)
