package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/pocketbackup/pocketbackup/shared"
)

// blobDrivers maps each gocloud scheme we support to a constructor of its
// URL opener. Adding a provider is one entry here (and its import). A fresh
// opener is built for every Open: some, like s3blob's, are mutated by each
// open and would leak settings between buckets if shared.
//
// gs and azblob use gocloud's own openers, reached through its default mux
// for that one scheme: they load credentials from the environment once per
// process (Application Default Credentials; AZURE_STORAGE_* variables) and
// copy their options for each open, so nothing of one URL reaches another.
var blobDrivers = map[string]func() blob.BucketURLOpener{
	memblob.Scheme:   func() blob.BucketURLOpener { return &memblob.URLOpener{} },
	s3blob.Scheme:    func() blob.BucketURLOpener { return s3Opener{} },
	gcsblob.Scheme:   func() blob.BucketURLOpener { return defaultMuxOpener{} },
	azureblob.Scheme: func() blob.BucketURLOpener { return defaultMuxOpener{} },
}

// defaultMuxOpener opens a URL with gocloud's default mux. Register it only
// for schemes whose default opener is safe to share (see blobDrivers).
type defaultMuxOpener struct{}

func (defaultMuxOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}

// Parameters every blob URL may carry, handled here rather than by a driver.
const (
	paramPrefix = "prefix"
	// paramKey is gocloud's single-key bucket, which makes no sense for a
	// store of backups; it is refused.
	paramKey = "key"
)

// maxPrefixLen caps the prefix parameter, leaving room for keys within
// S3's 1024-byte object names.
const maxPrefixLen = 512

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
	if u.User != nil {
		return nil, fmt.Errorf("open %s: credentials in the URL's user info are not supported (s3:// takes access_key and secret): %w",
			where(u), shared.ErrInvalid)
	}
	q := u.Query()
	if q.Has(paramKey) {
		return nil, fmt.Errorf("open %s: the key parameter is not supported: %w", where(u), shared.ErrInvalid)
	}
	prefix, err := cleanPrefix(q.Get(paramPrefix))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where(u), err)
	}
	bare := *u
	if q.Has(paramPrefix) {
		q.Del(paramPrefix)
		bare.RawQuery = q.Encode()
	}
	b, err := mux.OpenBucketURL(ctx, &bare)
	if err != nil {
		return nil, newOpenError(rawURL, u, err)
	}
	s := &blobStore{secrets: secretsOf(u)}
	var client *s3.Client
	if b.As(&client) && client != nil {
		s.beforeWrite = s3BeforeWrite(client)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	s.bucket = b
	return s, nil
}

// cleanPrefix checks the prefix parameter and returns it ending in '/', so
// that stores under "app1" and "app10" never see each other's keys. A valid
// prefix is a relative path of valid keys: no empty, "." or ".." segment,
// no leading '/'.
func cleanPrefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/")
	if len(p) > maxPrefixLen {
		return "", fmt.Errorf("prefix longer than %d bytes: %w", maxPrefixLen, shared.ErrInvalid)
	}
	for _, seg := range strings.Split(p, "/") {
		if !ValidKey(seg) {
			return "", fmt.Errorf("invalid prefix (want folder names separated by '/', none empty or starting with '.'): %w",
				shared.ErrInvalid)
		}
	}
	return p + "/", nil
}

// blobStore is a Store over a gocloud.dev/blob bucket.
type blobStore struct {
	bucket *blob.Bucket
	// secrets of the URL, which error texts must not show (see scrub).
	secrets []string
	// beforeWrite, if set, is every write's WriterOptions.BeforeWrite.
	beforeWrite func(as func(any) bool) error
}

var _ Store = (*blobStore)(nil)

// fail wraps err, from op on key, with its kind and scrubs it of secrets;
// it returns nil for nil.
func (s *blobStore) fail(op, key string, err error) error {
	return scrub(blobError(op, key, err), s.secrets)
}

// List implements Store. It skips "directories", fileblob sidecars, dot-files
// (temp files of other writers) and anything else that is not a valid key.
// Under a prefix it lists the keys directly under it, without the prefix.
func (s *blobStore) List(ctx context.Context) ([]Object, error) {
	var objs []Object
	it := s.bucket.List(&blob.ListOptions{Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, s.fail("list", "", err)
		}
		if o.IsDir || !ValidKey(o.Key) {
			continue
		}
		objs = append(objs, Object{Key: o.Key, Size: o.Size, Modified: modified(o.ModTime)})
	}
}

// Stat implements Store.
func (s *blobStore) Stat(ctx context.Context, key string) (Object, error) {
	if err := checkKey("stat", key); err != nil {
		return Object{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Object{}, s.fail("stat", key, err)
	}
	return Object{Key: key, Size: a.Size, Modified: modified(a.ModTime)}, nil
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
	return nil, s.fail("read", key, err)
}

// NewWriter implements Store. The write goes to the provider as it is made,
// in parts of s3PartSize where the provider takes parts (memblob buffers it
// all); the object appears only when Close succeeds.
func (s *blobStore) NewWriter(ctx context.Context, key string) (Writer, error) {
	if err := checkKey("write", key); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType:    contentType(key),
		BufferSize:     s3PartSize,
		MaxConcurrency: s3Concurrency,
		BeforeWrite:    s.beforeWrite,
		// Commit never replaces an object (If-None-Match: * on S3).
		IfNotExist: true,
	})
	if err != nil {
		cancel()
		return nil, s.fail("write", key, err)
	}
	return &blobWriter{w: w, ctx: wctx, cancel: cancel, key: key, store: s}, nil
}

// Delete implements Store.
func (s *blobStore) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	return s.fail("delete", key, s.bucket.Delete(ctx, key))
}

// Close implements Store.
func (s *blobStore) Close() error {
	return s.bucket.Close()
}

// modified returns t to the second. S3 lists times to the millisecond
// but its HEAD answers (Last-Modified) only to the second; List and Stat must
// agree.
func modified(t time.Time) time.Time {
	return t.Truncate(time.Second)
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
	ctx    context.Context // the write's, cancelled by Abort
	cancel context.CancelFunc
	key    string
	store  *blobStore
	done   bool // Commit or Abort was called
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %q: %w", w.key, errWriterDone)
	}
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.store.fail("write", w.key, err)
	}
	return n, nil
}

// Commit implements Writer. If it fails, nothing of the write is stored.
// It never replaces an object: the write is conditional (IfNotExist), and
// since not every S3-compatible service honours If-None-Match (nor every
// one on a multipart completion), the key is also checked just before.
// Either refusal wraps shared.ErrExists.
func (w *blobWriter) Commit() error {
	if w.done {
		return fmt.Errorf("commit %q: %w", w.key, errWriterDone)
	}
	if err := w.ensureAbsent(); err != nil {
		return errors.Join(err, w.Abort())
	}
	w.done = true
	defer w.cancel()
	err := w.w.Close()
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return scrub(fmt.Errorf("commit %q: %w: %w", w.key, shared.ErrExists, err), w.store.secrets)
	}
	return w.store.fail("commit", w.key, err)
}

// ensureAbsent returns an error wrapping shared.ErrExists when the key is
// stored, and any other failure to find out.
func (w *blobWriter) ensureAbsent() error {
	_, err := w.store.bucket.Attributes(w.ctx, w.key)
	switch {
	case err == nil:
		return fmt.Errorf("commit %q: %w", w.key, shared.ErrExists)
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil
	default:
		return w.store.fail("commit", w.key, err)
	}
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
		return w.store.fail("abort", w.key, err)
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
