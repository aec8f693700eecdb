package storage

import (
	"context"
	"fmt"
	"io"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pocketbackup/pocketbackup/shared"
)

// NewRangeReader implements Store. Reading from an offset at or past the end
// gives an empty reader, whatever the provider answers to such a range.
// Opening the reader is bounded by the call timeout; each Read by the idle
// timeout, so a slow consumer never ends the read but a stalled store does.
func (s *blobStore) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := checkKey("read", key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("read %q: negative offset: %w", key, shared.ErrInvalid)
	}
	rctx, cancel := context.WithCancelCause(ctx)
	guard := newStallGuard(cancel, s.where)
	guard.arm(s.opts.CallTimeout)
	r, err := s.bucket.NewRangeReader(rctx, key, offset, length, nil)
	guard.disarm()
	if err == nil {
		return &blobReader{r: r, ctx: rctx, cancel: cancel, guard: guard, store: s, key: key}, nil
	}
	defer cancel(nil)
	if offset > 0 && gcerrors.Code(err) != gcerrors.NotFound && ourDeadline(rctx) == nil {
		// Providers such as S3 refuse a range that starts past the end
		// (HTTP 416); answer as a file would.
		actx, acancel := s.callContext(ctx)
		a, aerr := s.bucket.Attributes(actx, key)
		acancel()
		if aerr == nil && offset >= a.Size {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	return nil, s.failKey(rctx, "read", key, err)
}

// blobReader is an object being read, with a stall guard around each Read.
type blobReader struct {
	r      *blob.Reader
	ctx    context.Context
	cancel context.CancelCauseFunc
	guard  *stallGuard
	store  *blobStore
	key    string
}

func (r *blobReader) Read(p []byte) (int, error) {
	r.guard.arm(r.store.opts.IdleTimeout)
	n, err := r.r.Read(p)
	r.guard.disarm()
	if err != nil && err != io.EOF {
		err = r.store.fail(r.ctx, "read", r.key, err)
	}
	return n, err
}

func (r *blobReader) Close() error {
	err := r.r.Close()
	r.guard.disarm()
	r.cancel(nil)
	return r.store.fail(r.ctx, "close reader", r.key, err)
}
