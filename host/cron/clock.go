package cron

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of a Scheduler: the real one in production, a
// FakeClock in tests.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock returns the system clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FakeClock is a Clock that moves only when told to. Like time.After, its
// After counts elapsed time, which Set (a wall clock being set) does not
// change. It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time     // wall time
	elapsed time.Duration // total of the Advance calls
	waiters []fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters changes
}

type fakeWaiter struct {
	at time.Duration // elapsed time at which it fires
	ch chan time.Time
}

var _ Clock = (*FakeClock)(nil)

// NewFakeClock returns a fake clock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once Advance has
// moved it d past the present; at once when d <= 0.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.elapsed + d, ch: ch})
	c.notify()
	return ch
}

// Advance lets d pass: it moves the clock by d and fires every After whose
// time has come, sending the new time. It panics when d is negative; Set
// moves the clock back.
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		panic("cron: FakeClock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.elapsed += d
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at > c.elapsed {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now // buffered, sent to once
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
	c.notify()
}

// Set sets the wall time to t, forward or back, as an administrator or NTP
// would: no time passes, so no After fires and none comes closer.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Waiters returns the number of After channels that have not fired yet.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// BlockUntil returns once at least n After channels are waiting to fire,
// or with ctx's error. Tests call it to know that a goroutine under test
// has reached its wait before they Advance the clock.
func (c *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		enough, changed := len(c.waiters) >= n, c.changed
		c.mu.Unlock()
		if enough {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes BlockUntil; c.mu is held.
func (c *FakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}
