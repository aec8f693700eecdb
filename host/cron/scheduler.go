package cron

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Errors of Scheduler.Run.
var (
	ErrUnknownJob = errors.New("unknown cron job")
	ErrJobRunning = errors.New("cron job is already running")
)

// Job describes a scheduled job.
type Job struct {
	ID         string `json:"id"`
	Expression string `json:"expression"`
}

// Scheduler runs jobs on their schedules. Once started, it wakes at the
// start of every minute (by its clock) and starts each job whose next time
// has come, each in its own goroutine. A job whose previous run has not
// returned is skipped, and the skip logged; runs missed while the process
// was suspended are made up by a single run. It is safe for concurrent use.
type Scheduler struct {
	clock  Clock
	logger *slog.Logger // nil: slog.Default() at the time of logging

	mu       sync.Mutex
	jobs     map[string]*job
	running  map[string]chan struct{} // by job id, the run going on (started by the loop or by Run), closed when it returns
	cancel   context.CancelFunc
	loopDone chan struct{}  // closed when the loop returns; nil when not started
	wg       sync.WaitGroup // runs the loop started
}

type job struct {
	sched Schedule
	run   func(ctx context.Context)
	next  time.Time // when the loop starts it next
}

// New returns a scheduler without jobs, not started, reading time from
// clock (RealClock when nil) and logging to logger (slog.Default() when nil).
func New(clock Clock, logger *slog.Logger) *Scheduler {
	if clock == nil {
		clock = RealClock()
	}
	return &Scheduler{clock: clock, logger: logger, jobs: map[string]*job{}, running: map[string]chan struct{}{}}
}

func (s *Scheduler) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

// Add schedules run under id on the cron expression expr (see Parse), or
// replaces the job id already has: the new expression counts at once, from
// now. A run of the old job still going on keeps counting as id's run, so
// the new one is not started beside it. The error of an invalid expression
// wraps a *ParseError.
func (s *Scheduler) Add(id, expr string, run func(ctx context.Context)) error {
	if id == "" {
		return errors.New("add cron job: empty id")
	}
	if run == nil {
		return fmt.Errorf("add cron job %q: nil func", id)
	}
	sched, err := Parse(expr)
	if err != nil {
		return fmt.Errorf("add cron job %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id] = &job{sched: sched, run: run, next: sched.Next(s.clock.Now())}
	return nil
}

// Remove unschedules job id, if there is one. A run already going on is not
// stopped.
func (s *Scheduler) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, id)
}

// Jobs returns the scheduled jobs sorted by id.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobs))
	for id, j := range s.jobs {
		out = append(out, Job{ID: id, Expression: j.sched.String()})
	}
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// NextRun returns when the loop starts job id next, in UTC; false when
// there is no such job.
func (s *Scheduler) NextRun(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return time.Time{}, false
	}
	return j.next.UTC(), true
}

// Run starts job id now, in its own goroutine with ctx, and returns without
// waiting for it: ErrUnknownJob when there is no such job, ErrJobRunning
// (and nothing started) while a run of it is going on. Pass a ctx that
// outlives the caller's request when the run should. It does not move the
// job's next scheduled time, and it works whether or not the scheduler is
// started; Stop does not wait for runs started by Run.
func (s *Scheduler) Run(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	switch {
	case !ok:
		return fmt.Errorf("run cron job %q: %w", id, ErrUnknownJob)
	case s.running[id] != nil:
		return fmt.Errorf("run cron job %q: %w", id, ErrJobRunning)
	}
	s.running[id] = make(chan struct{})
	go s.exec(ctx, id, j.run, false)
	return nil
}

// Running reports whether a run of job id, started by the loop or by Run,
// has not returned yet.
func (s *Scheduler) Running(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[id] != nil
}

// closedChan is what Done returns when no run is going on.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done returns a channel closed when the run of job id going on now
// returns, or an already closed one when none is going on. A run started
// after the call has a channel of its own.
func (s *Scheduler) Done(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.running[id]; c != nil {
		return c
	}
	return closedChan
}

// Start starts the scheduling loop in its own goroutine and returns. The
// loop runs until ctx ends or Stop is called; scheduled runs get a context
// that ends with it. Start on a started scheduler does nothing.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loopDone != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.cancel, s.loopDone = cancel, done
	go s.loop(ctx, done)
}

// Stop ends the loop, which cancels the context of the runs it started,
// and waits for the loop and those runs to return. The scheduler can be
// started again. Do not call Stop and Start concurrently.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.loopDone
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	s.wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, done chan struct{}) {
	defer func() {
		s.mu.Lock()
		s.cancel()
		s.cancel, s.loopDone = nil, nil
		s.mu.Unlock()
		close(done)
	}()
	for {
		now := s.clock.Now()
		wake := s.clock.After(now.Truncate(time.Minute).Add(time.Minute).Sub(now))
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		s.tick(ctx, s.clock.Now().UTC().Truncate(time.Minute))
	}
}

// tick starts the jobs due at minute m.
func (s *Scheduler) tick(ctx context.Context, m time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, j := range s.jobs {
		if j.next.After(m) {
			// Normally Next(m) == j.next; an earlier one means the clock was
			// set back, and the job should not wait for it to catch up.
			if n := j.sched.Next(m); n.Before(j.next) {
				j.next = n
			}
			continue
		}
		j.next = j.sched.Next(m)
		if s.running[id] != nil {
			s.log().WarnContext(ctx, "cron: job still running, skipped this run", "job", id, "time", m)
			continue
		}
		s.running[id] = make(chan struct{})
		s.wg.Add(1)
		go s.exec(ctx, id, j.run, true)
	}
}

// exec runs one run of job id. A panic in it is logged, not spread: one
// bad job must not kill the process.
func (s *Scheduler) exec(ctx context.Context, id string, run func(context.Context), fromLoop bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log().ErrorContext(ctx, "cron: job panicked", "job", id, "panic", r, "stack", string(debug.Stack()))
		}
		s.mu.Lock()
		close(s.running[id])
		delete(s.running, id)
		s.mu.Unlock()
		if fromLoop {
			s.wg.Done()
		}
	}()
	run(ctx)
}
