package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// writer inserts a note through the host every interval, one at a time,
// titled with its sequence number, and records each insert's latency. It
// stops at the first failed insert, so the rows it wrote are exactly
// 1..acked (plus possibly acked+1, committed but unanswered).
type writer struct {
	h        *testhost
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu    sync.Mutex
	acked int
	lat   []time.Duration
	at    []time.Time // when each insert started
	err   error
}

func startWriter(ctx context.Context, h *testhost, interval time.Duration) *writer {
	w := &writer{h: h, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	body := "a row written by the bench writer while a backup is created"
	for {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := w.count() + 1
		start := time.Now()
		_, err := w.h.call(ctx, "POST", "/api/collections/notes/records",
			map[string]string{"title": fmt.Sprintf("%s%07d", writerPrefix, n), "body": body}, nil)
		lat := time.Since(start)
		w.mu.Lock()
		w.lat = append(w.lat, lat)
		w.at = append(w.at, start)
		if err != nil {
			w.err = fmt.Errorf("insert %d: %w", n, err)
			w.mu.Unlock()
			return
		}
		w.acked = n
		w.mu.Unlock()
	}
}

// count is the number of acknowledged inserts.
func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// waitCount waits until n inserts are acknowledged or the writer failed.
func (w *writer) waitCount(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		acked, err := w.acked, w.err
		w.mu.Unlock()
		if err != nil {
			return err
		}
		if acked >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.done:
			return fmt.Errorf("writer stopped after %d inserts", acked)
		case <-time.After(w.interval):
		}
	}
}

// finish stops the writer and returns its figures; the slowest inserts
// are timed from since.
func (w *writer) finish(since time.Time) writerStats {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	s := writerStats{Inserts: w.acked, Err: w.err}
	idx := make([]int, len(w.lat))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(w.lat[b], w.lat[a]) })
	for _, i := range idx[:min(3, len(idx))] {
		s.Worst = append(s.Worst, fmt.Sprintf("%v at %+.2f s", w.lat[i].Round(100*time.Microsecond), w.at[i].Sub(since).Seconds()))
	}
	lat := slices.Clone(w.lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
		s.P50 = lat[len(lat)/2]
		s.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
		for _, l := range lat {
			if l > stallLimit {
				s.Stalls++
			}
		}
	}
	return s
}

// stallLimit is the longest insert that is not a stall.
const stallLimit = 100 * time.Millisecond

// writerStats sums up a writer's run.
type writerStats struct {
	Inserts       int
	Max, P50, P99 time.Duration
	Stalls        int      // inserts over stallLimit
	Worst         []string // the slowest inserts and when they started
	Err           error
}

// upPoller asks GET /api/health (no auth) every interval and records
// whether the host answered 200, to measure a restore's downtime.
type upPoller struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []upSample
}

type upSample struct {
	at time.Time
	ok bool
}

func startUpPoller(ctx context.Context, url string, interval time.Duration) *upPoller {
	p := &upPoller{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(p.done)
		for {
			ok := false
			if req, err := http.NewRequestWithContext(ctx, "GET", url+"/api/health", nil); err == nil {
				if resp, err := client.Do(req); err == nil {
					ok = resp.StatusCode == http.StatusOK
					// Read to the end so the connection is reused: a new
					// one every 10 ms would load the host with
					// connection churn no SDK client makes.
					_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
				}
			}
			p.mu.Lock()
			p.samples = append(p.samples, upSample{at: time.Now(), ok: ok})
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return p
}

// finish stops polling and returns the downtime (see downtime).
func (p *upPoller) finish() (time.Duration, bool) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return downtime(p.samples)
}

// downtime is the longest time between two consecutive 200 answers: the
// host refusing connections in between, or holding a request while its
// listening socket passes to the re-executed process (which refuses
// nothing, so counting failures alone would see no downtime at all).
// False when fewer than two answers came, or none after the last failure
// (the host never came back).
func downtime(samples []upSample) (time.Duration, bool) {
	var (
		longest time.Duration
		lastOK  time.Time
		answers int
	)
	for _, s := range samples {
		if !s.ok {
			continue
		}
		if !lastOK.IsZero() {
			longest = max(longest, s.at.Sub(lastOK))
		}
		lastOK = s.at
		answers++
	}
	if answers < 2 || !samples[len(samples)-1].ok {
		return 0, false
	}
	return longest, true
}
