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

	gcs "cloud.google.com/go/storage"
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

func openBlob(ctx context.Context, rawURL string, u *url.URL, opts Options) (Store, error) {
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
	s := &blobStore{secrets: secretsOf(u), where: where(u), opts: opts.withDefaults()}
	var client *s3.Client
	if b.As(&client) && client != nil {
		s.beforeWrite = s3BeforeWrite(client)
	}
	var gcsClient *gcs.Client
	if b.As(&gcsClient) && gcsClient != nil {
		// Else it retries idempotent calls until the context ends.
		gcsClient.SetRetry(gcs.WithMaxAttempts(gcsMaxAttempts))
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

// gcsMaxAttempts is the GCS client's retry budget per call (its default
// is unlimited within the context's deadline).
const gcsMaxAttempts = 4

// listPageSize is how many objects one listing call asks for.
const listPageSize = 1000

// blobStore is a Store over a gocloud.dev/blob bucket. Every call has a
// deadline (see Options): a store that does not answer fails the call
// with shared.ErrStorageUnreachable instead of hanging it.
type blobStore struct {
	bucket *blob.Bucket
	// where names the store in errors: scheme://host.
	where string
	opts  Options
	// secrets of the URL, which error texts must not show (see scrub).
	secrets []string
	// beforeWrite, if set, is every write's WriterOptions.BeforeWrite.
	beforeWrite func(as func(any) bool) error
}

var _ Store = (*blobStore)(nil)

// List implements Store. It skips "directories", fileblob sidecars, dot-files
// (temp files of other writers) and anything else that is not a valid key.
// Under a prefix it lists the keys directly under it, without the prefix.
// Each page is one call with its own deadline. A listing that the store
// answers "not found" means the bucket is missing.
func (s *blobStore) List(ctx context.Context) ([]Object, error) {
	pins, err := s.blobPins(ctx)
	if err != nil {
		return nil, err
	}
	var objs []Object
	opts := &blob.ListOptions{Delimiter: "/"}
	for token := blob.FirstPageToken; ; {
		page, next, err := s.listPage(ctx, token, opts)
		if err != nil {
			return nil, err
		}
		for _, o := range page {
			if o.IsDir || !ValidKey(o.Key) {
				continue
			}
			objs = append(objs, Object{Key: o.Key, Size: o.Size, Modified: modified(o.ModTime), Pinned: pins[o.Key]})
		}
		if len(next) == 0 {
			return s.withDigests(ctx, objs)
		}
		token = next
	}
}

func (s *blobStore) listPage(ctx context.Context, token []byte, opts *blob.ListOptions) ([]*blob.ListObject, []byte, error) {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	page, next, err := s.bucket.ListPage(ctx, token, listPageSize, opts)
	if err != nil {
		if storageKind(err) == shared.ErrNotFound {
			err = fmt.Errorf("%w: %w", shared.ErrNoBucket, err)
		}
		return nil, nil, s.fail(ctx, "list", "", err)
	}
	return page, next, nil
}

// Stat implements Store.
func (s *blobStore) Stat(ctx context.Context, key string) (Object, error) {
	if err := checkKey("stat", key); err != nil {
		return Object{}, err
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	a, err := s.bucket.Attributes(cctx, key)
	if err != nil {
		return Object{}, s.failKey(cctx, "stat", key, err)
	}
	pinned, err := s.blobPinned(ctx, key)
	if err != nil {
		return Object{}, err
	}
	o := Object{Key: key, Size: a.Size, Modified: modified(a.ModTime), Pinned: pinned}
	if o.SHA256, err = s.digestOf(ctx, key); err != nil {
		return Object{}, err
	}
	return o, nil
}

// withDigests fills in the digests of objs from one listing of the markers.
func (s *blobStore) withDigests(ctx context.Context, objs []Object) ([]Object, error) {
	if len(objs) == 0 {
		return objs, nil
	}
	sums, err := s.markers(ctx, markerDir)
	if err != nil {
		return nil, err
	}
	for i := range objs {
		objs[i].SHA256 = sums[objs[i].Key]
	}
	return objs, nil
}

// NewWriter implements Store. The write goes to the provider as it is made,
// in parts of s3PartSize where the provider takes parts (memblob buffers it
// all); the object appears only when Commit succeeds. See blobWriter.
func (s *blobStore) NewWriter(ctx context.Context, key string) (Writer, error) {
	if err := checkKey("write", key); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	pr, pw := io.Pipe()
	w := &blobWriter{
		pw: pw, ctx: wctx, cancel: cancel, guard: newStallGuard(cancel, s.where),
		key: key, store: s, done: make(chan struct{}),
	}
	opts := &blob.WriterOptions{
		ContentType:    contentType(key),
		BufferSize:     s3PartSize,
		MaxConcurrency: s3Concurrency,
		BeforeWrite:    s.beforeWrite,
		// Commit never replaces an object (If-None-Match: * on S3).
		IfNotExist: true,
	}
	go w.upload(pr, opts)
	return w, nil
}

// Delete implements Store.
func (s *blobStore) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	// The digest goes first: a crash between leaves an object without a
	// digest, never a digest of nothing.
	if err := s.removeMarkers(ctx, key); err != nil {
		return err
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	if err := s.failKey(cctx, "delete", key, s.bucket.Delete(cctx, key)); err != nil {
		return err
	}
	// The pin goes with its object (a later backup of the same name
	// starts unpinned).
	return s.removeBlobPin(ctx, key)
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

// blobWriter is a Writer that feeds a bucket's Upload through a pipe. The
// upload runs in its own goroutine: Write hands it bytes, Commit ends the
// stream and waits for its result, Abort cancels its context and breaks
// the pipe.
//
// Giving the driver a reader, rather than writing into the driver's own
// writer, keeps the upload's result: gocloud v0.47.0's azureblob writer
// panics in Close after a failed upload (its goroutine sets its pipe
// reader to nil before Close dereferences it) and the cause is lost. Its
// Upload path has no such pipe. A panic in any driver's upload is still
// recovered and reported with the cause the context holds.
type blobWriter struct {
	pw     *io.PipeWriter
	ctx    context.Context // the upload's; cancelled by Abort and stalls
	cancel context.CancelCauseFunc
	guard  *stallGuard
	key    string
	store  *blobStore

	done chan struct{} // closed when the upload has returned
	err  error         // the upload's result, set before done is closed

	finished bool   // Commit or Abort was called
	sha256   string // set by SetSHA256; its marker is written after the upload
}

// upload runs the driver's upload of everything read from pr and records
// its result. Whatever the driver does, the pipe is closed with the result
// (so a Write blocked on it returns the cause) and done is closed.
func (w *blobWriter) upload(pr *io.PipeReader, opts *blob.WriterOptions) {
	defer close(w.done)
	defer func() {
		if p := recover(); p != nil {
			w.err = fmt.Errorf("storage driver panicked during the upload: %v", p)
			if cause := context.Cause(w.ctx); cause != nil {
				w.err = fmt.Errorf("%w (%w)", cause, w.err)
			}
		}
		if w.err != nil {
			pr.CloseWithError(w.err)
		} else {
			pr.Close()
		}
	}()
	w.err = w.store.bucket.Upload(w.ctx, w.key, pr, opts)
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if w.finished {
		return 0, fmt.Errorf("write %q: %w", w.key, errWriterDone)
	}
	w.guard.arm(w.store.opts.IdleTimeout)
	n, err := w.pw.Write(p)
	w.guard.disarm()
	if err != nil {
		return n, w.store.fail(w.ctx, "write", w.key, w.cause(err))
	}
	return n, nil
}

// cause prefers the upload's own error to what the pipe reports of it.
func (w *blobWriter) cause(err error) error {
	select {
	case <-w.done:
		if w.err != nil {
			return w.err
		}
	default:
	}
	return err
}

// Commit implements Writer. If it fails, nothing of the write is stored;
// the error is the upload's own (a missing container, refused credentials,
// a cancelled context, a stalled store). It never replaces an object: the
// write is conditional (IfNotExist), and since not every S3-compatible
// service honours If-None-Match (nor every one on a multipart completion),
// the key is also checked just before. Either refusal wraps
// shared.ErrExists.
func (w *blobWriter) Commit() error {
	if w.finished {
		return fmt.Errorf("commit %q: %w", w.key, errWriterDone)
	}
	if err := w.ensureAbsent(); err != nil {
		return errors.Join(err, w.Abort())
	}
	w.finished = true
	defer w.cancel(nil)
	_ = w.pw.Close() // io.PipeWriter.Close never fails
	if !w.wait("did not finish the upload") {
		return fmt.Errorf("commit %q: %w", w.key, w.stuck())
	}
	err := w.err
	if err != nil && w.ctx.Err() != nil && ourDeadline(w.ctx) == nil && !errors.Is(err, context.Cause(w.ctx)) {
		// The caller cancelled; say so whatever the driver made of it.
		err = fmt.Errorf("%w: %w", context.Cause(w.ctx), err)
	}
	if err != nil && storageKind(err) == shared.ErrNotFound {
		// A write has no key to miss: it is the bucket.
		err = fmt.Errorf("%w: %w", shared.ErrNoBucket, err)
	}
	if err != nil {
		return w.store.fail(w.ctx, "commit", w.key, err)
	}
	if w.sha256 != "" {
		return w.store.writeMarker(w.ctx, w.key, w.sha256)
	}
	return w.store.removeMarkers(w.ctx, w.key)
}

// ensureAbsent returns an error wrapping shared.ErrExists when the key is
// stored, and any other failure to find out.
func (w *blobWriter) ensureAbsent() error {
	cctx, cancel := w.store.callContext(w.ctx)
	defer cancel()
	_, err := w.store.bucket.Attributes(cctx, w.key)
	switch {
	case err == nil:
		return fmt.Errorf("commit %q: %w", w.key, shared.ErrExists)
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil
	default:
		return w.store.fail(cctx, "commit", w.key, err)
	}
}

// Abort implements Writer. After Commit or Abort it does nothing. The
// upload is cancelled and waited for (at most the idle timeout): nothing
// of it is stored. An upload that had already failed stored nothing
// either, and its cause went to the Write or Commit that saw it, so Abort
// returns nil for it.
func (w *blobWriter) Abort() error {
	if w.finished {
		return nil
	}
	w.finished = true
	w.cancel(errAborted)
	w.pw.CloseWithError(errAborted)
	if !w.wait("did not stop the upload") {
		return fmt.Errorf("abort %q: %w", w.key, w.stuck())
	}
	if w.err == nil {
		// The driver ignored the cancellation and stored the object.
		return fmt.Errorf("abort %q: the store kept the object despite the cancelled write", w.key)
	}
	return nil
}

// wait waits for the upload to return. When it has not within the idle
// timeout, its context is cancelled (what says why) and it gets as long
// again to return; wait reports false if it still has not.
func (w *blobWriter) wait(what string) bool {
	limit := w.store.opts.IdleTimeout
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-w.done:
		return true
	case <-t.C:
	}
	w.cancel(&deadlineError{store: w.store.where, what: what, limit: limit})
	t.Reset(limit)
	select {
	case <-w.done:
		return true
	case <-t.C:
		return false
	}
}

// stuck is the error of an upload that did not return after its context
// was cancelled; its goroutine is left to end when the driver lets it.
func (w *blobWriter) stuck() error {
	return fmt.Errorf("the storage driver did not stop the upload (%w)", context.Cause(w.ctx))
}

// errAborted is the cause of an upload Abort ended.
var errAborted = errors.New("write aborted")

// errWriterDone is returned by a Writer used after Commit or Abort.
var errWriterDone = fmt.Errorf("writer already committed or aborted: %w", shared.ErrInvalid)
