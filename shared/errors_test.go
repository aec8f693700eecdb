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
	kinds := []error{ErrNotFound, ErrExists, ErrBusy, ErrInvalid, ErrNoSpace, ErrUnavailable,
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
