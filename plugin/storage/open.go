package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/gcerrors"

	"github.com/pocketbackup/pocketbackup/shared"
)

var _ Opener = Open

// Open opens the store rawURL names:
//
//   - file:///abs/dir is a local directory (see the local store: durable
//     writes, flat files, created 0700 if missing). The gocloud fileblob
//     parameters metadata, no_tmp_dir and create_dir are accepted and ignored.
//   - mem://, s3://BUCKET, gs://BUCKET and azblob://CONTAINER are buckets
//     opened through gocloud.dev/blob with gocloud's URL parameters. Each may
//     carry prefix=FOLDER (a folder inside the bucket: the store sees only
//     the keys directly under it, without the prefix). s3:// also takes
//     access_key and secret (static credentials; else the AWS SDK's default
//     chain); see s3Opener and shared.S3URL.
//
// Errors wrap shared.ErrInvalid for a malformed or unsupported URL. Their text
// names only the scheme and host: never the user info, path or query, which
// may hold credentials. Nor do the errors of the store's operations show
// the URL's secrets.
//
// Remote stores get the default deadlines; Options.Open sets others.
func Open(ctx context.Context, rawURL string) (Store, error) {
	return Options{}.Open(ctx, rawURL)
}

var _ Opener = Options{}.Open

// Open is the package's Open with these options.
func (o Options) Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL; say nothing of it.
		return nil, fmt.Errorf("open storage: malformed URL: %w", shared.ErrInvalid)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("open storage: URL has no scheme (want file:///dir or %s): %w",
			strings.Join(blobSchemes(), "://, ")+"://", shared.ErrInvalid)
	}
	if u.Scheme == "file" {
		return openLocal(u)
	}
	return openBlob(ctx, rawURL, u, o)
}

// where names the store in errors: scheme and host only.
func where(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// openError is an error from opening a store whose text has been cleaned of
// secrets. It keeps the kind (for errors.Is) but not the original error, whose
// text and formatting may repeat the URL.
type openError struct {
	msg  string
	kind error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.kind }

// newOpenError wraps a driver's open error for the store at u, which was
// given as rawURL.
func newOpenError(rawURL string, u *url.URL, err error) error {
	var kind error
	switch gcerrors.Code(err) {
	case gcerrors.InvalidArgument, gcerrors.Unknown:
		// Drivers check parameters with plain errors (Unknown); opening
		// does no I/O in gocloud's drivers, so that is a bad URL.
		kind = shared.ErrInvalid
	case gcerrors.NotFound:
		kind = shared.ErrNotFound
	case gcerrors.Canceled:
		kind = context.Canceled
	case gcerrors.DeadlineExceeded:
		kind = context.DeadlineExceeded
	}
	msg := "open " + where(u) + ": " + scrubURL(err.Error(), rawURL, u)
	if kind != nil && !errors.Is(err, kind) {
		msg += ": " + kind.Error()
	}
	return &openError{msg: msg, kind: kind}
}
