package shared

import (
	"context"
	"errors"

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
	// ErrUnavailable means the plugin could not be reached (it crashed or
	// is restarting).
	ErrUnavailable = errors.New("plugin unavailable")
)

var kindCodes = []struct {
	kind error
	code codes.Code
}{
	{ErrNotFound, codes.NotFound},
	{ErrExists, codes.AlreadyExists},
	{ErrBusy, codes.FailedPrecondition},
	{ErrUnavailable, codes.Unavailable},
	{ErrInvalid, codes.InvalidArgument},
	{ErrNoSpace, codes.ResourceExhausted},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
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
		if errors.Is(err, kc.kind) {
			return status.Error(kc.code, err.Error())
		}
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
	for _, kc := range kindCodes {
		if st.Code() == kc.code {
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
