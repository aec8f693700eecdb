package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host"
)

// TestHandoffNoRestore: a server that stops for any other reason is not a
// hand-over; Served returns at once.
func TestHandoffNoRestore(t *testing.T) {
	hand := host.NewHandoff(func(context.Context) error { return nil }, func() error { return nil })
	if restoring, err := hand.Served(t.Context()); restoring || err != nil {
		t.Fatalf("Served = %v, %v; want false, nil", restoring, err)
	}
}

// TestHandoffOrder: Shutdown stops the server, waits until the app says
// its Serve returned, and only then closes the app; Served then holds the
// process until it is stopped, or returns the restart's failure.
func TestHandoffOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(hand *host.Handoff, cancel context.CancelFunc)
		want error
	}{
		{"stopped", func(_ *host.Handoff, cancel context.CancelFunc) { cancel() }, nil},
		{"restartFailed", func(hand *host.Handoff, _ context.CancelFunc) { hand.RestartFailed(errExec) }, errExec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []string
			stopServing := make(chan struct{})
			hand := host.NewHandoff(
				func(context.Context) error { events = append(events, "stop"); close(stopServing); return nil },
				func() error { events = append(events, "close"); return nil })
			shutdownDone := make(chan error, 1)
			go func() { shutdownDone <- hand.Shutdown(t.Context()) }()
			<-stopServing
			select {
			case err := <-shutdownDone:
				t.Fatalf("Shutdown returned (%v) before the app's Serve did", err)
			case <-time.After(50 * time.Millisecond):
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			served := make(chan error, 1)
			go func() {
				restoring, err := hand.Served(ctx)
				if !restoring {
					err = errors.New("Served did not see the restore")
				}
				served <- err
			}()
			if err := <-shutdownDone; err != nil {
				t.Fatal(err)
			}
			if len(events) != 2 || events[0] != "stop" || events[1] != "close" {
				t.Fatalf("events %v, want [stop close]", events)
			}
			select {
			case err := <-served:
				t.Fatalf("Served returned (%v) while the restore owns the process", err)
			case <-time.After(50 * time.Millisecond):
			}
			tc.end(hand, cancel)
			if err := <-served; !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Served = %v, want %v", err, tc.want)
			}
		})
	}
}

var errExec = errors.New("exec: no such file")
