package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far a transfer or an operation has come: a bar on a
// terminal, a plain line every few seconds otherwise. Both go to stderr so
// stdout keeps only results.
type progress interface {
	// Set records bytes done of total (total 0: not known yet).
	Set(done, total int64)
	// Done ends the display; ok draws the bar full.
	Done(ok bool)
}

// newProgress returns the display for an operation described by what.
func newProgress(e env, what string) progress {
	if e.isTerminal() {
		return newBar(e.Stderr, what)
	}
	now := time.Now()
	return &lines{w: e.Stderr, what: what, start: now, last: now, every: 2 * time.Second}
}

// bar is the terminal display.
type bar struct {
	b     *progressbar.ProgressBar
	w     io.Writer
	total int64
	done  int64
}

func newBar(w io.Writer, what string) *bar {
	b := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return &bar{b: b, w: w, total: -1}
}

func (p *bar) Set(done, total int64) {
	if total > 0 && total != p.total {
		p.total = total
		p.b.ChangeMax64(total)
	}
	if done != p.done {
		p.done = done
		_ = p.b.Set64(done)
	}
}

func (p *bar) Done(ok bool) {
	if ok && p.total > 0 {
		_ = p.b.Set64(p.total) // reaching the max finishes the bar
		return
	}
	_ = p.b.Exit()
	fmt.Fprintln(p.w)
}

// lines is the display when stderr is not a terminal.
type lines struct {
	w     io.Writer
	what  string
	start time.Time
	every time.Duration
	last  time.Time
	done  int64
	total int64
}

func (p *lines) Set(done, total int64) {
	p.done, p.total = done, total
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintln(p.w, p.line())
	}
}

func (p *lines) Done(ok bool) {
	if ok && p.total > 0 {
		p.done = p.total
	}
	if p.done > 0 {
		fmt.Fprintln(p.w, p.line())
	}
}

// line is "what: 12.0 MiB of 100.0 MiB (12%), 4.0 MiB/s, 22s left".
func (p *lines) line() string {
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed
	}
	s := fmt.Sprintf("%s: %s", p.what, humanBytes(p.done))
	if p.total > 0 {
		s += fmt.Sprintf(" of %s (%d%%)", humanBytes(p.total), p.done*100/p.total)
	}
	s += fmt.Sprintf(", %s/s", humanBytes(int64(rate)))
	if p.total > p.done && rate > 0 {
		s += fmt.Sprintf(", %s left", time.Duration(float64(p.total-p.done)/rate*float64(time.Second)).Round(time.Second))
	}
	return s
}

// humanBytes is n in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
