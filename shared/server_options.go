package shared

import (
	"context"
	"fmt"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PanicLogger receives a recovered panic and its stack.
type PanicLogger func(method string, recovered any, stack []byte)

// ServerOptions are the gRPC server options every backups plugin should use:
// a receive limit that fits the streamed chunks, and interceptors that turn
// a panic in a handler into an Internal error instead of killing the plugin
// (one hostile archive must not take down a restore).
func ServerOptions(logPanic PanicLogger) []grpc.ServerOption {
	if logPanic == nil {
		logPanic = func(string, any, []byte) {}
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
			defer recoverInto(&err, info.FullMethod, logPanic)
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
			defer recoverInto(&err, info.FullMethod, logPanic)
			return handler(srv, ss)
		}),
	}
}

func recoverInto(err *error, method string, logPanic PanicLogger) {
	if r := recover(); r != nil {
		logPanic(method, r, debug.Stack())
		*err = status.Error(codes.Internal, fmt.Sprintf("panic in %s", method))
	}
}
