package cron_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/cron"
)

// received returns what ch holds, without waiting.
func received(ch <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeClockAfter(t *testing.T) {
	start := at(t, "2026-01-01 00:00")
	c := cron.NewFakeClock(start)
	now := c.After(0)
	if v, ok := received(now); !ok || !v.Equal(start) {
		t.Fatalf("After(0) sent %v, %v; want %v at once", v, ok, start)
	}
	a, b := c.After(time.Minute), c.After(2*time.Minute)
	if c.Waiters() != 2 {
		t.Fatalf("Waiters = %d, want 2", c.Waiters())
	}
	c.Advance(59 * time.Second)
	if _, ok := received(a); ok {
		t.Fatal("fired before its time")
	}
	c.Advance(30 * time.Second)
	if v, ok := received(a); !ok || !v.Equal(start.Add(89*time.Second)) {
		t.Fatalf("a sent %v, %v; want the new time", v, ok)
	}
	if _, ok := received(b); ok {
		t.Fatal("b fired early")
	}
	if c.Waiters() != 1 {
		t.Fatalf("Waiters = %d, want 1", c.Waiters())
	}
	if got := c.Now(); !got.Equal(start.Add(89 * time.Second)) {
		t.Errorf("Now = %v", got)
	}
}

func TestFakeClockSetDoesNotFire(t *testing.T) {
	c := cron.NewFakeClock(at(t, "2026-01-01 10:00"))
	ch := c.After(time.Minute)
	c.Set(at(t, "2026-01-01 12:00"))
	if _, ok := received(ch); ok {
		t.Fatal("Set fired a timer")
	}
	c.Set(at(t, "2026-01-01 09:00"))
	c.Advance(time.Minute) // a minute has passed, whatever the wall clock says
	if v, ok := received(ch); !ok || !v.Equal(at(t, "2026-01-01 09:01")) {
		t.Fatalf("got %v, %v; want 09:01", v, ok)
	}
}

func TestFakeClockAdvanceNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	cron.NewFakeClock(time.Time{}).Advance(-time.Second)
}

func TestFakeClockBlockUntil(t *testing.T) {
	c := cron.NewFakeClock(at(t, "2026-01-01 00:00"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.BlockUntil(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("BlockUntil with no waiter = %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(t.Context(), 2) }()
	c.After(time.Hour)
	c.After(time.Hour)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // failsafe only
		t.Fatal("BlockUntil did not return")
	}
}

// TestFakeClockConcurrent is for the race detector.
func TestFakeClockConcurrent(t *testing.T) {
	c := cron.NewFakeClock(at(t, "2026-01-01 00:00"))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				switch (i + j) % 4 {
				case 0:
					c.After(time.Duration(j) * time.Millisecond)
				case 1:
					c.Advance(time.Millisecond)
				case 2:
					c.Now()
				default:
					c.Waiters()
				}
			}
		})
	}
	wg.Wait()
	c.Advance(time.Hour)
	if n := c.Waiters(); n != 0 {
		t.Errorf("%d waiters left after an hour", n)
	}
}
