package host

import (
	"context"
	"errors"
	"sync"
)

// Handoff is the hand-over of an app's process to a restore, the part every
// embedder would otherwise copy: a restore calls Config.Shutdown, which must
// stop the app's server and close everything in the data directory; then the
// app's serving code must not close the host (the next process reattaches
// its plugin) nor return from main (the host re-executes the process), and a
// restart that fails must end the process so a supervisor starts it again.
//
//	hand := host.NewHandoff(stopServing, closeApp)
//	cfg.Shutdown, cfg.RestartFailed = hand.Shutdown, hand.RestartFailed
//	…
//	err := srv.Serve(ln)
//	if restoring, restartErr := hand.Served(ctx); restoring {
//		return restartErr // nil once ctx ends: stopped on purpose
//	}
type Handoff struct {
	stopServing func(ctx context.Context) error
	closeApp    func() error

	restoring chan struct{} // closed when a restore takes the process
	served    chan struct{} // closed when the app's Serve has returned
	failed    chan error    // the restart's error, once
	once      sync.Once
	servedOne sync.Once
}

// NewHandoff returns a Handoff whose Shutdown calls stopServing, which must
// make the app's Serve return (http.Server.Shutdown, or cancelling the
// context it serves under), waits until the app reports through Served that
// it has, then calls closeApp to close the app's databases and files.
func NewHandoff(stopServing func(ctx context.Context) error, closeApp func() error) *Handoff {
	return &Handoff{
		stopServing: stopServing,
		closeApp:    closeApp,
		restoring:   make(chan struct{}),
		served:      make(chan struct{}),
		failed:      make(chan error, 1),
	}
}

// Shutdown is Config.Shutdown: it stops the server, waits for Served and
// closes the app. Its error refuses the restore before any data is swapped.
func (h *Handoff) Shutdown(ctx context.Context) error {
	h.once.Do(func() { close(h.restoring) })
	if err := h.stopServing(ctx); err != nil {
		return errors.Join(err, h.closeApp())
	}
	select {
	case <-h.served:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return h.closeApp()
}

// RestartFailed is Config.RestartFailed: Served returns err.
func (h *Handoff) RestartFailed(err error) {
	select {
	case h.failed <- err:
	default:
	}
}

// Served is called by the app once its Serve has returned. It reports
// whether a restore stopped the server; if so it waits until the restore
// is done with the process and returns nil when ctx ends (the app is being
// stopped: the next start completes the restore from its journal) or the
// error of a restart that failed (the app should exit non-zero). The app
// must then return without closing the host or its databases.
func (h *Handoff) Served(ctx context.Context) (restoring bool, restartErr error) {
	h.servedOne.Do(func() { close(h.served) })
	select {
	case <-h.restoring:
	default:
		return false, nil
	}
	select {
	case <-ctx.Done():
		return true, nil
	case err := <-h.failed:
		return true, err
	}
}
