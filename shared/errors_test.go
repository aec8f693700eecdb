package shared

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestErrorKindsRoundTrip: every kind survives ToStatus and FromStatus as
// itself and as no other kind, including the storage kinds that share a
// gRPC code with an older kind.
func TestErrorKindsRoundTrip(t *testing.T) {
	kinds := []error{ErrNotFound, ErrExists, ErrBusy, ErrInvalid, ErrNoSpace, ErrUnavailable, ErrUnsupported,
		ErrNoBucket, ErrAccessDenied, ErrStorageUnreachable, ErrNoKey, ErrWrongKey, context.Canceled, context.DeadlineExceeded}
	for _, kind := range kinds {
		got := FromStatus(ToStatus(fmt.Errorf("op: %w", kind)))
		for _, other := range kinds {
			if is := errors.Is(got, other); is != (other == kind) {
				t.Errorf("%v after the round trip: errors.Is(%v) = %v", kind, other, is)
			}
		}
	}
}

// TestUnknownReasonFallsBackToCode: a reason from a newer peer maps to the
// code's older kind.
func TestUnknownReasonFallsBackToCode(t *testing.T) {
	st, err := status.New(codes.FailedPrecondition, "x").WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: "FUTURE"})
	if err != nil {
		t.Fatal(err)
	}
	if got := FromStatus(st.Err()); !errors.Is(got, ErrBusy) {
		t.Errorf("FromStatus = %v, want ErrBusy", got)
	}
}

// TestDigestMismatchRoundTrip: a digest mismatch crosses as itself, and is
// still ErrInvalid to a host that does not know it.
func TestDigestMismatchRoundTrip(t *testing.T) {
	got := FromStatus(ToStatus(fmt.Errorf("extract: %w", ErrDigestMismatch)))
	if !errors.Is(got, ErrDigestMismatch) || !errors.Is(got, ErrInvalid) {
		t.Errorf("after the round trip: %v; want ErrDigestMismatch and ErrInvalid", got)
	}
	if got := FromStatus(ToStatus(fmt.Errorf("x: %w", ErrInvalid))); errors.Is(got, ErrDigestMismatch) {
		t.Errorf("ErrInvalid came back as a digest mismatch")
	}
}

// TestOldPluginAnswersUnsupported: a plugin older than an RPC answers
// Unimplemented, which the host reads as ErrUnsupported.
func TestOldPluginAnswersUnsupported(t *testing.T) {
	if got := FromStatus(status.Error(codes.Unimplemented, "method SetPinned not implemented")); !errors.Is(got, ErrUnsupported) {
		t.Fatalf("FromStatus = %v, want ErrUnsupported", got)
	}
}
