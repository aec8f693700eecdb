package storage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"

	"github.com/pocketbackup/pocketbackup/shared"
)

// fail wraps err, from op on key under ctx, with its kind and scrubs it of
// secrets; it returns nil for nil. When one of our deadlines ended ctx,
// the error says so (the driver only saw a cancelled context).
func (s *blobStore) fail(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	if de := ourDeadline(ctx); de != nil && !errors.Is(err, shared.ErrStorageUnreachable) {
		err = fmt.Errorf("%w (%w)", de, err) // names the store
	} else if isStorageFailure(err) {
		err = fmt.Errorf("storage %s: %w", s.where, err)
	}
	return scrub(blobError(op, key, err), s.secrets)
}

// isStorageFailure reports an error of the store itself rather than of
// one object in it; its text names the store.
func isStorageFailure(err error) bool {
	switch storageKind(err) {
	case shared.ErrNoBucket, shared.ErrAccessDenied, shared.ErrStorageUnreachable:
		return true
	}
	return errors.Is(err, shared.ErrNoBucket) || errors.Is(err, shared.ErrAccessDenied) || errors.Is(err, shared.ErrStorageUnreachable)
}

// failKey is fail for an operation on one key (stat, read, delete): a
// not-found answer there may mean that the whole bucket is missing, which
// is checked with one listing.
func (s *blobStore) failKey(ctx context.Context, op, key string, err error) error {
	if err != nil && storageKind(err) == shared.ErrNotFound && ctx.Err() == nil && !s.bucketExists(ctx) {
		err = fmt.Errorf("%w: %w", shared.ErrNoBucket, err)
	}
	return s.fail(ctx, op, key, err)
}

// bucketExists reports whether the bucket answers a listing; an error
// other than not-found counts as existing (the caller reports the first
// error).
func (s *blobStore) bucketExists(ctx context.Context) bool {
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ok, err := s.bucket.IsAccessible(ctx)
	return ok || err != nil
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
	if kind := storageKind(err); kind != nil && !errors.Is(err, kind) {
		return fmt.Errorf("%s: %w: %w", name, kind, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// storageKind returns the shared kind of a driver's error, or nil. The
// storage's own failures (no bucket, access refused, unreachable) are told
// from a missing object through each provider's error codes, since
// gocloud folds them all into a few codes.
func storageKind(err error) error {
	switch {
	case errors.Is(err, shared.ErrNoBucket), errors.Is(err, shared.ErrAccessDenied), errors.Is(err, shared.ErrStorageUnreachable):
		return nil // already classified
	case isNoBucket(err):
		return shared.ErrNoBucket
	case isAccessDenied(err):
		return shared.ErrAccessDenied
	case isUnreachable(err):
		return shared.ErrStorageUnreachable
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return shared.ErrNotFound
	case gcerrors.InvalidArgument:
		return shared.ErrInvalid
	case gcerrors.PermissionDenied:
		return shared.ErrAccessDenied
	case gcerrors.FailedPrecondition:
		// A conditional write (IfNotExist) found the key stored.
		return shared.ErrExists
	}
	return nil
}

// isNoBucket reports an answer that the bucket or container is missing.
func isNoBucket(err error) bool {
	if errors.Is(err, gcs.ErrBucketNotExist) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
		return true
	}
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.ErrorCode == "ContainerNotFound"
}

// isAccessDenied reports an answer that refuses the credentials.
func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return true
		}
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
		return true
	}
	var ge *googleapi.Error
	return errors.As(err, &ge) && (ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden)
}

// isUnreachable reports a failure to reach the store at all.
func isUnreachable(err error) bool {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	return errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED)
}
