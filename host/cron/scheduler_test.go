package cron_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/cron"
)

// failsafe bounds every wait of these tests in real time; nothing waits
// for it unless a test is failing.
const failsafe = 10 * time.Second

// syncBuffer is a log sink safe for concurrent jobs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a started scheduler over a fake clock.
type harness struct {
	t    *testing.T
	clk  *cron.FakeClock
	s    *cron.Scheduler
	logs *syncBuffer
}

func newHarness(t *testing.T, start string) *harness {
	t.Helper()
	h := &harness{t: t, clk: cron.NewFakeClock(at(t, start)), logs: &syncBuffer{}}
	h.s = cron.New(h.clk, slog.New(slog.NewTextHandler(h.logs, nil)))
	h.s.Start(t.Context())
	t.Cleanup(h.s.Stop)
	h.waitIdle()
	return h
}

// waitIdle returns once the loop waits on the clock.
func (h *harness) waitIdle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), failsafe)
	defer cancel()
	if err := h.clk.BlockUntil(ctx, 1); err != nil {
		h.t.Fatalf("the scheduler loop never waited on the clock: %v", err)
	}
}

// step lets d pass and returns once the loop has handled it.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.waitIdle()
	h.clk.Advance(d)
	h.waitIdle()
}

// minutes steps one minute at a time, n times, calling each (if not nil)
// with the time after every step.
func (h *harness) minutes(n int, each func(now time.Time)) {
	h.t.Helper()
	for range n {
		h.step(time.Minute)
		if each != nil {
			each(h.clk.Now())
		}
	}
}

// ran waits for rec's next run and for it to end: a job whose run has not
// returned is skipped at its next time, and a recorder's run is not over
// when it has recorded.
func (h *harness) ran(rec *recorder) {
	h.t.Helper()
	rec.wait(h.t)
	for deadline := time.Now().Add(failsafe); h.s.RunningJobs() > 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			h.t.Fatal("the run did not end")
		}
	}
}

func (h *harness) add(id, expr string, run func(context.Context)) {
	h.t.Helper()
	if err := h.s.Add(id, expr, run); err != nil {
		h.t.Fatal(err)
	}
}

// recorder is a job that records the clock's time at each run.
type recorder struct {
	clk   *cron.FakeClock
	mu    sync.Mutex
	times []time.Time
	ran   chan struct{}
}

func newRecorder(clk *cron.FakeClock) *recorder {
	return &recorder{clk: clk, ran: make(chan struct{}, 100)}
}

func (r *recorder) run(context.Context) {
	r.mu.Lock()
	r.times = append(r.times, r.clk.Now())
	r.mu.Unlock()
	r.ran <- struct{}{}
}

// wait returns after the next run.
func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.ran:
	case <-time.After(failsafe):
		t.Fatal("the job did not run")
	}
}

// check compares the run times with want ("2006-01-02 15:04" in UTC).
func (r *recorder) check(t *testing.T, want ...string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var w []time.Time
	for _, s := range want {
		w = append(w, at(t, s))
	}
	if !slices.EqualFunc(r.times, w, time.Time.Equal) {
		t.Errorf("runs at %v, want %v", r.times, w)
	}
}

func TestEveryFiveMinutes(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	rec := newRecorder(h.clk)
	h.add("five", "*/5 * * * *", rec.run)
	h.minutes(21, func(now time.Time) {
		if now.Minute()%5 == 0 {
			h.ran(rec)
		}
	})
	h.s.Stop() // waits for any run started, so a stray one shows
	rec.check(t, "2026-01-01 00:05", "2026-01-01 00:10", "2026-01-01 00:15", "2026-01-01 00:20")
}

func TestDailyAtMidnightUTC(t *testing.T) {
	h := newHarness(t, "2026-02-28 23:57")
	rec := newRecorder(h.clk)
	h.add("daily", "@daily", rec.run)
	h.minutes(6, func(now time.Time) {
		if now.Hour() == 0 && now.Minute() == 0 {
			h.ran(rec)
		}
	})
	h.step(23*time.Hour + 56*time.Minute) // 2026-03-01 23:59
	h.minutes(1, func(time.Time) { h.ran(rec) })
	h.s.Stop()
	rec.check(t, "2026-03-01 00:00", "2026-03-02 00:00")
}

func TestMissedRunsAreMadeUpOnce(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	rec := newRecorder(h.clk)
	h.add("five", "*/5 * * * *", rec.run)
	h.step(17*time.Minute + 30*time.Second) // as if suspended: the loop wakes late, once
	h.ran(rec)
	h.step(time.Minute) // 00:18:30: nothing due; the next tick is 00:19
	h.minutes(1, nil)   // 00:19:30
	h.minutes(1, func(time.Time) { h.ran(rec) })
	h.s.Stop()
	rec.check(t, "2026-01-01 00:17:30.000", "2026-01-01 00:20:30.000")
}

func TestClockSetBack(t *testing.T) {
	h := newHarness(t, "2026-01-01 10:00")
	rec := newRecorder(h.clk)
	h.add("morning", "30 9 * * *", rec.run) // next: tomorrow 09:30
	h.clk.Set(at(t, "2026-01-01 09:00"))
	h.minutes(30, func(now time.Time) {
		if now.Hour() == 9 && now.Minute() == 30 {
			h.ran(rec)
		}
	})
	h.s.Stop()
	rec.check(t, "2026-01-01 09:30")
}

func TestReplaceReschedulesAtOnce(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	old, repl := newRecorder(h.clk), newRecorder(h.clk)
	h.add("job", "0 * * * *", old.run)
	h.add("job", "*/2 * * * *", repl.run) // replaces it; next 00:02, not 01:00

	var pe *cron.ParseError
	if err := h.s.Add("job", "*/0 * * * *", old.run); !errors.As(err, &pe) {
		t.Fatalf("Add with a bad expression = %v, want a *ParseError", err)
	}
	h.minutes(5, func(now time.Time) {
		if now.Minute()%2 == 0 {
			h.ran(repl)
		}
	})
	h.s.Stop()
	repl.check(t, "2026-01-01 00:02", "2026-01-01 00:04")
	old.check(t)
	if got := h.s.Jobs(); !slices.Equal(got, []cron.Job{{ID: "job", Expression: "*/2 * * * *"}}) {
		t.Errorf("Jobs = %v", got)
	}
	// The next run follows the replacing expression from the last tick.
	if next, ok := h.s.NextRun("job"); !ok || !next.Equal(time.Date(2026, 1, 1, 0, 6, 0, 0, time.UTC)) {
		t.Errorf("NextRun = %v %v, want 2026-01-01 00:06 UTC", next, ok)
	}
	if next, ok := h.s.NextRun("never-added"); ok {
		t.Errorf("NextRun of an unknown job = %v", next)
	}
}

func TestRemoveStopsJob(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	rec := newRecorder(h.clk)
	h.add("every", "* * * * *", rec.run)
	h.minutes(1, func(time.Time) { h.ran(rec) })
	h.s.Remove("every")
	h.s.Remove("never-added") // no-op
	h.minutes(3, nil)
	h.s.Stop()
	rec.check(t, "2026-01-01 00:01")
	if got := h.s.Jobs(); len(got) != 0 {
		t.Errorf("Jobs = %v, want none", got)
	}
	if err := h.s.Run(t.Context(), "every"); !errors.Is(err, cron.ErrUnknownJob) {
		t.Errorf("Run of a removed job = %v, want ErrUnknownJob", err)
	}
}

func TestRunNow(t *testing.T) {
	clk := cron.NewFakeClock(at(t, "2026-01-01 12:34"))
	s := cron.New(clk, slog.New(slog.DiscardHandler)) // never started: Run does not need the loop
	rec := newRecorder(clk)
	if err := s.Add("yearly", "@yearly", rec.run); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context(), "yearly"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t)
	rec.check(t, "2026-01-01 12:34")
	if err := s.Run(t.Context(), "nope"); !errors.Is(err, cron.ErrUnknownJob) {
		t.Errorf("Run(nope) = %v, want ErrUnknownJob", err)
	}
}

func TestRunPassesContext(t *testing.T) {
	s := cron.New(cron.NewFakeClock(time.Time{}), slog.New(slog.DiscardHandler))
	type key struct{}
	got := make(chan any, 1)
	if err := s.Add("ctx", "@daily", func(ctx context.Context) { got <- ctx.Value(key{}) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.WithValue(t.Context(), key{}, "v"), "ctx"); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "v" {
			t.Errorf("ctx value %v", v)
		}
	case <-time.After(failsafe):
		t.Fatal("the job did not run")
	}
}

// TestNoOverlap checks that a job still running is not started again, by
// the loop or by Run, and that the skip is logged.
func TestNoOverlap(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	started, release := make(chan struct{}, 10), make(chan struct{})
	h.add("slow", "* * * * *", func(context.Context) {
		started <- struct{}{}
		<-release
	})
	h.minutes(1, nil)
	select {
	case <-started:
	case <-time.After(failsafe):
		t.Fatal("the job did not start")
	}
	h.minutes(2, nil) // 00:02 and 00:03: skipped
	if err := h.s.Run(t.Context(), "slow"); !errors.Is(err, cron.ErrJobRunning) {
		t.Errorf("Run while running = %v, want ErrJobRunning", err)
	}
	if !h.s.Running("slow") {
		t.Error("Running = false while the job runs")
	}
	close(release)
	h.s.Stop() // waits for the run
	if h.s.Running("slow") {
		t.Error("Running = true after the job returned")
	}
	if n := len(started); n != 0 {
		t.Errorf("%d more runs started beside the first", n)
	}
	if got := strings.Count(h.logs.String(), "job still running"); got != 2 {
		t.Errorf("%d skips logged, want 2; logs:\n%s", got, h.logs)
	}

	// Restarted, the job runs again. The stopped loop left its timer
	// behind, so the new loop's is the second.
	h.s.Start(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), failsafe)
	defer cancel()
	if err := h.clk.BlockUntil(ctx, 2); err != nil {
		t.Fatal(err)
	}
	h.minutes(1, nil)
	select {
	case <-started:
	case <-time.After(failsafe):
		t.Fatal("the job did not run after the restart")
	}
}

func TestStopCancelsRuns(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	canceled := make(chan error, 1)
	h.add("waits", "* * * * *", func(ctx context.Context) {
		<-ctx.Done()
		canceled <- ctx.Err()
	})
	h.minutes(1, nil)
	h.s.Stop() // returns only once the run has seen its context end
	select {
	case err := <-canceled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ctx.Err() = %v", err)
		}
	default:
		t.Fatal("Stop returned before the run did")
	}
}

func TestContextEndStopsLoop(t *testing.T) {
	clk := cron.NewFakeClock(at(t, "2026-01-01 00:00"))
	s := cron.New(clk, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	s.Start(ctx)
	cancel()
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(failsafe):
		t.Fatal("Stop hung after the context ended")
	}
	s.Stop() // twice is fine
}

func TestPanickingJob(t *testing.T) {
	h := newHarness(t, "2026-01-01 00:00")
	h.add("bad", "* * * * *", func(context.Context) { panic("boom") })
	h.minutes(1, nil)
	h.s.Stop()
	if logs := h.logs.String(); !strings.Contains(logs, "job panicked") || !strings.Contains(logs, "boom") {
		t.Errorf("panic not logged:\n%s", logs)
	}
	ran := make(chan struct{})
	h.add("bad", "@daily", func(context.Context) { close(ran) })
	if err := h.s.Run(t.Context(), "bad"); err != nil {
		t.Fatalf("Run after a panic = %v; the job should not count as running", err)
	}
	select {
	case <-ran:
	case <-time.After(failsafe):
		t.Fatal("the job did not run")
	}
}

func TestJobsSorted(t *testing.T) {
	s := cron.New(nil, nil)
	noop := func(context.Context) {}
	for _, j := range []cron.Job{{ID: "b", Expression: "@hourly"}, {ID: "__pbAutoBackup__", Expression: "0 0 * * *"},
		{ID: "a", Expression: " */5 * * * * "}, {ID: "c", Expression: "@daily"}} {
		if err := s.Add(j.ID, j.Expression, noop); err != nil {
			t.Fatal(err)
		}
	}
	want := []cron.Job{{ID: "__pbAutoBackup__", Expression: "0 0 * * *"}, {ID: "a", Expression: "*/5 * * * *"},
		{ID: "b", Expression: "@hourly"}, {ID: "c", Expression: "@daily"}}
	if got := s.Jobs(); !slices.Equal(got, want) {
		t.Errorf("Jobs = %v, want %v", got, want)
	}
	if got := cron.New(nil, nil).Jobs(); got == nil || len(got) != 0 {
		t.Errorf("Jobs of an empty scheduler = %#v, want an empty slice", got)
	}
}

func TestAddRefuses(t *testing.T) {
	s := cron.New(nil, nil)
	noop := func(context.Context) {}
	for name, err := range map[string]error{
		"empty id":       s.Add("", "@daily", noop),
		"nil func":       s.Add("x", "@daily", nil),
		"bad expression": s.Add("x", "61 * * * *", noop),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := s.Jobs(); len(got) != 0 {
		t.Errorf("Jobs = %v, want none", got)
	}
}

// TestDoneClosesWhenRunReturns: Done is closed for a job with no run going
// on, stays open while a run is going on, and closes when it returns, after
// which the job can be run again at once.
func TestDoneClosesWhenRunReturns(t *testing.T) {
	s := cron.New(nil, nil)
	release := make(chan struct{})
	if err := s.Add("job", "@daily", func(context.Context) { <-release }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done("job"):
	default:
		t.Fatal("Done is open with no run going on")
	}
	if err := s.Run(t.Context(), "job"); err != nil {
		t.Fatal(err)
	}
	done := s.Done("job")
	select {
	case <-done:
		t.Fatal("Done is closed while the run goes on")
	default:
	}
	close(release)
	select {
	case <-done:
	case <-time.After(failsafe):
		t.Fatal("Done not closed after the run returned")
	}
	if err := s.Run(t.Context(), "job"); err != nil {
		t.Fatalf("run again after Done: %v", err)
	}
}
