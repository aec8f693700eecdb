package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/host/notify"
	"github.com/pocketbackup/pocketbackup/internal/durable"
)

// lastGoodFile keeps the newest good backup's time across restarts (and
// restores: the state folder is never swapped).
const lastGoodFile = "last-good-backup"

// freshnessEvery is how often the dead-man's switch looks at the time.
const freshnessEvery = time.Minute

// freshness is the dead-man's switch's state.
type freshness struct {
	mu         sync.Mutex
	lastGood   time.Time // newest successful backup; zero when none known
	since      time.Time // when watching started: the reference while lastGood is zero
	stale      bool      // an EventStale was sent and no good backup came since
	newestSize int64     // size of the newest stored backup, as last listed
	listedOnce bool
}

// loadLastGood reads the persisted time; zero when none.
func loadLastGood(dataDir string) (time.Time, error) {
	data, err := os.ReadFile(filepath.Join(stateDir(dataDir), lastGoodFile))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last good backup: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data)))
	if err != nil {
		return time.Time{}, fmt.Errorf("parse last good backup: %w", err)
	}
	return t, nil
}

// goodBackup records a successful backup at t and re-evaluates the switch.
func (h *Host) goodBackup(t time.Time) {
	h.fresh.mu.Lock()
	newer := t.After(h.fresh.lastGood)
	if newer {
		h.fresh.lastGood = t
	}
	h.fresh.mu.Unlock()
	if newer {
		if err := os.MkdirAll(stateDir(h.cfg.DataDir), 0o700); err == nil {
			err = durable.WriteFileAtomic(filepath.Join(stateDir(h.cfg.DataDir), lastGoodFile),
				[]byte(t.UTC().Format(time.RFC3339Nano)), 0o600)
			if err != nil {
				h.log.Warn("persist last good backup time", "error", err)
			}
		}
	}
	h.checkFreshness()
}

// checkFreshness fires EventStale once when no good backup is newer than
// staleAfter, and EventRecovered once when there is one again.
func (h *Host) checkFreshness() {
	limit := h.notifySettings().staleAfter()
	now := h.clock.Now()
	h.fresh.mu.Lock()
	ref := h.fresh.lastGood
	if ref.IsZero() {
		ref = h.fresh.since
	}
	stale := limit > 0 && now.Sub(ref) > limit
	var ev *notify.Event
	switch {
	case stale && !h.fresh.stale:
		ev = &notify.Event{Type: notify.EventStale}
	case !stale && h.fresh.stale:
		ev = &notify.Event{Type: notify.EventRecovered}
	}
	h.fresh.stale = stale
	lastGood := h.fresh.lastGood
	h.fresh.mu.Unlock()
	h.metrics.Freshness(lastGood, stale)
	if ev == nil {
		return
	}
	if !lastGood.IsZero() {
		lg := lastGood.UTC()
		ev.LastGoodBackup = &lg
	}
	if stale {
		h.log.Error("no successful backup within staleAfter", "staleAfter", limit.String(), "lastGoodBackup", lastGood)
		ev.Message = "No successful backup within " + limit.String() + "."
	} else {
		h.log.Info("backups are recent again", "lastGoodBackup", lastGood)
	}
	h.sendEvent(*ev)
}

// watchFreshness runs the dead-man's switch until the host closes. It
// waits on the clock only while staleAfter is set (a settings change
// wakes it through freshWake), so a host without the switch keeps no
// timer.
func (h *Host) watchFreshness() {
	for {
		h.checkFreshness()
		var tick <-chan time.Time
		if h.notifySettings().staleAfter() > 0 {
			tick = h.clock.After(freshnessEvery)
		}
		select {
		case <-h.ctx.Done():
			return
		case <-tick:
		case <-h.freshWake:
		}
	}
}

// wakeFreshness has the switch look again (the settings changed).
func (h *Host) wakeFreshness() {
	select {
	case h.freshWake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// freshnessView is what /api/health shows superusers: the newest good
// backup's time ("" when none known) and whether it is stale.
func (h *Host) freshnessView() (string, bool) {
	h.fresh.mu.Lock()
	defer h.fresh.mu.Unlock()
	lg := ""
	if !h.fresh.lastGood.IsZero() {
		lg = formatTime(h.fresh.lastGood)
	}
	return lg, h.fresh.stale
}
