package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/shared"
)

// Default deadlines of a remote store's calls (see Options).
const (
	// DefaultCallTimeout bounds each call that moves no object data. It is
	// below the host's start-up check, so that an unreachable store is
	// reported with its cause rather than as a timed-out check.
	DefaultCallTimeout = 20 * time.Second
	// DefaultIdleTimeout bounds how long a transfer may wait on the store
	// without progress. A transfer as a whole has no deadline: a big
	// backup over a slow link takes as long as it takes.
	DefaultIdleTimeout = 5 * time.Minute
)

// Options tunes the stores Open opens. The zero value gives the defaults.
// The deadlines apply to remote (gocloud) stores; the local store's calls
// are the kernel's.
type Options struct {
	// CallTimeout bounds each call that moves no object data: a stat, a
	// delete, one page of a listing, opening a reader, and the retries the
	// provider's client makes within it. DefaultCallTimeout when 0.
	CallTimeout time.Duration
	// IdleTimeout bounds how long one transfer may make no progress: a
	// Write or a Read that waits on the store, or a Commit waiting for the
	// store to finish the upload. DefaultIdleTimeout when 0.
	IdleTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// deadlineError is the cause of a call or transfer that a deadline of
// ours ended: the store did not answer, or stopped making progress.
type deadlineError struct {
	store string // scheme://host
	what  string // "did not answer", "made no progress"
	limit time.Duration
}

func (e *deadlineError) Error() string {
	return fmt.Sprintf("storage %s %s within %s", e.store, e.what, e.limit)
}

func (e *deadlineError) Unwrap() error { return shared.ErrStorageUnreachable }

// ourDeadline returns the deadlineError that ended ctx, or nil when ctx is
// live or ended for another reason (the caller cancelled).
func ourDeadline(ctx context.Context) error {
	var de *deadlineError
	if errors.As(context.Cause(ctx), &de) {
		return de
	}
	return nil
}

// callContext returns ctx bounded by the store's call timeout.
func (s *blobStore) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := s.opts.CallTimeout
	return context.WithTimeoutCause(ctx, limit, &deadlineError{store: s.where, what: "did not answer", limit: limit})
}

// stallGuard cancels a transfer's context when one call into the store
// (armed with arm, ended with disarm) lasts longer than its limit. Time
// spent between calls, waiting on the caller, does not count.
type stallGuard struct {
	cancel context.CancelCauseFunc
	store  string

	mu    sync.Mutex
	limit time.Duration
	timer *time.Timer
}

func newStallGuard(cancel context.CancelCauseFunc, store string) *stallGuard {
	g := &stallGuard{cancel: cancel, store: store}
	g.timer = time.AfterFunc(math.MaxInt64, g.fire)
	g.timer.Stop()
	return g
}

func (g *stallGuard) fire() {
	g.mu.Lock()
	limit := g.limit
	g.mu.Unlock()
	g.cancel(&deadlineError{store: g.store, what: "made no progress", limit: limit})
}

// arm starts counting limit for a call into the store.
func (g *stallGuard) arm(limit time.Duration) {
	g.mu.Lock()
	g.limit = limit
	g.mu.Unlock()
	g.timer.Reset(limit)
}

// disarm ends the call arm began.
func (g *stallGuard) disarm() { g.timer.Stop() }
