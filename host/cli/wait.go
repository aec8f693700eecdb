package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// healthData is the superuser's view of /api/health.
type healthData struct {
	CanBackup     *bool      `json:"canBackup"`
	Operation     *operation `json:"operation"`
	LastOperation *outcome   `json:"lastOperation"`
}

// operation is the running create, restore or verify.
type operation struct {
	Kind       string `json:"kind"`
	Key        string `json:"key"`
	BytesDone  int64  `json:"bytesDone"`
	BytesTotal int64  `json:"bytesTotal"`
	Started    string `json:"started"`
}

// outcome is how the last operation ended.
type outcome struct {
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Started  string `json:"started"`
	Finished string `json:"finished"`
}

func (o *outcome) same(p *outcome) bool {
	if o == nil || p == nil {
		return o == p
	}
	return *o == *p
}

// health reads /api/health; super is false when the token is not (or no
// longer) a superuser's.
func (c *client) health(ctx context.Context) (d healthData, super bool, err error) {
	var out struct {
		Data healthData `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/health", nil, &out); err != nil {
		return healthData{}, false, err
	}
	return out.Data, out.Data.CanBackup != nil, nil
}

// waitResult is what a wait saw.
type waitResult struct {
	Outcome *outcome
	// Down is how long the API did not answer (restores); DownSeen is
	// false when no poll fell into the gap.
	Down     time.Duration
	DownSeen bool
}

// waiter follows one operation through /api/health.
type waiter struct {
	e      env
	c      *client
	kind   string
	key    string
	before *outcome // lastOperation before the operation was asked for
	prog   progress
	// restart: the app restarts during the operation (a restore).
	restart bool
}

// maxHealthErrors is how many failed polls in a row end a wait that does
// not expect the app to go away (about a minute at the default interval).
const maxHealthErrors = 240

// maxRestartDown is how long a restore's wait lets the app stay away.
const maxRestartDown = 10 * time.Minute

// wait polls until the app reports the operation's outcome. Ctrl-C (ctx
// cancelled) stops waiting only.
func (w *waiter) wait(ctx context.Context) (waitResult, error) {
	var res waitResult
	interval := w.e.poll()
	if w.restart {
		interval /= 2
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastUp, downSince time.Time
	errs := 0
	for {
		d, super, err := w.c.health(ctx)
		now := time.Now()
		if err == nil {
			// Any answer, even one that no longer takes our token, means
			// the API is up.
			// The longest gap between answers is the restart's.
			if !downSince.IsZero() {
				gap := now.Sub(lastUp)
				if lastUp.IsZero() {
					gap = now.Sub(downSince)
				}
				res.DownSeen, res.Down = true, max(res.Down, gap)
			}
			lastUp, downSince = now, time.Time{}
		}
		switch {
		case ctx.Err() != nil:
			return res, w.stopped()
		case err != nil:
			var ae *apiError
			if !errors.As(err, &ae) && downSince.IsZero() {
				downSince = now
			}
			if errs++; errs > maxHealthErrors && !w.restart {
				return res, fmt.Errorf("the app stopped answering while the %s of %s ran: %w", w.kind, w.key, err)
			}
			if w.restart && !downSince.IsZero() && now.Sub(downSince) > maxRestartDown {
				return res, fmt.Errorf("the app has not answered for %s since it restarted for the restore of %s: check its log (the next start completes or rolls back the restore): %w",
					maxRestartDown, w.key, err)
			}
		case !super:
			// After a restore the app's tokens may have changed.
			if rerr := w.c.relogin(ctx); rerr != nil {
				if ctx.Err() != nil {
					return res, w.stopped()
				}
				return res, fmt.Errorf("the app is up but no longer accepts this token (%v): log in again and run `backups list` to see the outcome", rerr)
			}
			continue
		default:
			errs = 0
			if op := d.Operation; op != nil && op.Kind == w.kind && op.Key == w.key {
				w.prog.Set(op.BytesDone, op.BytesTotal)
			} else if l := d.LastOperation; l != nil && !l.same(w.before) && l.Key == w.key && l.Kind == w.kind {
				res.Outcome = l
				return res, nil
			}
		}
		select {
		case <-ctx.Done():
			return res, w.stopped()
		case <-t.C:
		}
	}
}

func (w *waiter) stopped() error {
	return fmt.Errorf("%w: the %s of %s goes on in the app; follow it with `backups list` or GET /api/health", errStoppedWaiting, w.kind, w.key)
}
