package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
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
//   - any other scheme registered in blobDrivers (today mem://) is a bucket
//     opened through gocloud.dev/blob.
//
// Errors wrap shared.ErrInvalid for a malformed or unsupported URL. Their text
// names only the scheme and host: never the user info, path or query, which
// may hold credentials.
func Open(ctx context.Context, rawURL string) (Store, error) {
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
	return openBlob(ctx, rawURL, u)
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
	msg := "open " + where(u) + ": " + redact(err.Error(), rawURL, u)
	if kind != nil && !errors.Is(err, kind) {
		msg += ": " + kind.Error()
	}
	return &openError{msg: msg, kind: kind}
}

// minSecretLen is the shortest query value or user name that redact removes;
// shorter ones ("1", "true") would mangle the message and are not secrets.
const minSecretLen = 4

// redact removes from msg everything of u that may be secret: the URL itself
// in any spelling, its user info, its query and each query value.
func redact(msg, rawURL string, u *url.URL) string {
	var secrets []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			secrets = append(secrets, s)
		}
	}
	add(rawURL)
	add(u.String())
	add(u.Redacted())
	add(u.RawQuery)
	if u.User != nil {
		add(u.User.String())
		add(u.User.Username())
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
			add(url.QueryEscape(v))
		}
	}
	// Longest first, so that a URL goes as a whole before its parts.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "[redacted]")
	}
	return msg
}
