package shared

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error kinds that cross the process boundary. Implementations wrap them
// (fmt.Errorf("...: %w", ErrNotFound)); callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrBusy     = errors.New("busy")
	ErrInvalid  = errors.New("invalid")
	ErrNoSpace  = errors.New("no space left")
	// ErrUnsupported means the plugin or its storage cannot do what was
	// asked (a plugin older than the call, a store that keeps no pins).
	ErrUnsupported = errors.New("not supported")
	// ErrUnavailable means the plugin could not be reached (it crashed or
	// is restarting).
	ErrUnavailable = errors.New("plugin unavailable")

	// Failures of the storage itself, as opposed to one backup in it.
	// None of them wraps ErrNotFound: a missing bucket is not a missing
	// backup.

	// ErrNoBucket means the storage's bucket or container does not exist.
	ErrNoBucket = errors.New("storage bucket or container does not exist")
	// ErrAccessDenied means the storage refused the credentials.
	ErrAccessDenied = errors.New("storage refused access")
	// ErrStorageUnreachable means the storage could not be reached, or
	// did not answer (or made no progress) within its deadline.
	ErrStorageUnreachable = errors.New("storage unreachable or not answering")

	// ErrDigestMismatch means a backup's bytes no longer match the SHA-256
	// recorded when it was stored (damaged or altered in storage). It
	// wraps ErrInvalid, which older hosts see it as.
	ErrDigestMismatch = fmt.Errorf("backup does not match its recorded SHA-256: %w", ErrInvalid)

	// Failures to decrypt a backup encrypted at rest. Hosts that do not
	// know them see ErrInvalid.

	// ErrNoKey means the backup is encrypted and the plugin holds no key.
	ErrNoKey = errors.New("the backup is encrypted and no encryption key is configured")
	// ErrWrongKey means none of the plugin's keys decrypts the backup.
	ErrWrongKey = errors.New("none of the configured encryption keys can decrypt the backup")
)

// errorDomain is the ErrorInfo domain of the kinds that share a gRPC code
// with another kind and travel with a reason.
const errorDomain = "pocketbackup"

// kindCodes maps each kind to its gRPC code. A kind with a reason shares
// its code with an older kind; the reason, sent as an ErrorInfo detail,
// tells them apart. Kinds with a reason come first.
var kindCodes = []struct {
	kind   error
	code   codes.Code
	reason string
}{
	{ErrDigestMismatch, codes.InvalidArgument, "DIGEST_MISMATCH"},
	{ErrNoBucket, codes.FailedPrecondition, "STORAGE_NO_BUCKET"},
	{ErrStorageUnreachable, codes.Unavailable, "STORAGE_UNREACHABLE"},
	{ErrAccessDenied, codes.PermissionDenied, "STORAGE_ACCESS_DENIED"},
	{ErrNoKey, codes.InvalidArgument, "ENCRYPTION_NO_KEY"},
	{ErrWrongKey, codes.InvalidArgument, "ENCRYPTION_WRONG_KEY"},
	{ErrNotFound, codes.NotFound, ""},
	{ErrExists, codes.AlreadyExists, ""},
	{ErrBusy, codes.FailedPrecondition, ""},
	{ErrUnavailable, codes.Unavailable, ""},
	{ErrInvalid, codes.InvalidArgument, ""},
	{ErrNoSpace, codes.ResourceExhausted, ""},
	{ErrUnsupported, codes.Unimplemented, ""},
	{context.Canceled, codes.Canceled, ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
}

// ToStatus turns an error into a gRPC status error, keeping its kind as the
// code and its text as the message.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, kc := range kindCodes {
		if !errors.Is(err, kc.kind) {
			continue
		}
		st := status.New(kc.code, err.Error())
		if kc.reason != "" {
			if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: kc.reason}); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// FromStatus turns a gRPC status error back into an error that wraps the
// matching kind, so errors.Is works on the host side.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	reason := reasonOf(st)
	for _, kc := range kindCodes {
		if st.Code() == kc.code && kc.reason == reason {
			return &remoteError{msg: st.Message(), kind: kc.kind}
		}
	}
	// A reason this side does not know: the code's older kind.
	for _, kc := range kindCodes {
		if st.Code() == kc.code && kc.reason == "" {
			return &remoteError{msg: st.Message(), kind: kc.kind}
		}
	}
	return &remoteError{msg: st.Message(), kind: nil}
}

// remoteError carries the plugin's message with the kind it was sent as.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return "plugin: " + e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// reasonOf returns the reason of st's pocketbackup ErrorInfo, or "".
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return info.GetReason()
		}
	}
	return ""
}
