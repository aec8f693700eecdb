package host

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketbackup/pocketbackup/host/metrics"
	"github.com/pocketbackup/pocketbackup/host/notify"
)

// restoreNoticeFile marks a restore that Recover settled and nobody has
// reported yet: the next Host reports it (metrics, restore_completed).
const restoreNoticeFile = "restore-notice"

// startObserving starts the notifier, the dead-man's switch and the
// private metrics listener, and reports a restore finished by the restart
// that started this process.
func (h *Host) startObserving() error {
	h.notifier = notify.New(notify.Options{
		Superusers: h.cfg.SuperuserEmails,
		Result:     h.metrics.Notified,
		Warn:       h.log.Warn,
	})
	lastGood, err := loadLastGood(h.cfg.DataDir)
	if err != nil {
		h.log.Warn("last good backup unknown", "error", err)
	}
	h.fresh.lastGood, h.fresh.since = lastGood, h.clock.Now()
	h.freshWake = make(chan struct{}, 1)
	if h.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", h.cfg.MetricsAddr)
		if err != nil {
			h.notifier.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", h.MetricsHandler())
		h.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
		h.wg.Go(func() {
			if err := h.metricsServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.log.Error("metrics listener stopped", "error", err)
			}
		})
		h.metricsAddr = ln.Addr().String()
		h.log.Info("metrics served without authentication", "addr", h.metricsAddr)
	}
	notice := filepath.Join(stateDir(h.cfg.DataDir), restoreNoticeFile)
	if _, err := os.Stat(notice); err == nil {
		if err := os.Remove(notice); err != nil {
			h.log.Warn("remove restore notice", "error", err)
		} else if last := h.ops.last; last != nil && last.Kind == KindRestore {
			h.observeRecovered(last)
		}
	}
	h.wg.Go(h.watchFreshness)
	return nil
}

// runningForMetrics is the running operation as the metrics show it.
func (h *Host) runningForMetrics() (metrics.Running, bool) {
	if h.ops == nil {
		return metrics.Running{}, false
	}
	run, _ := h.ops.snapshot()
	if run == nil {
		return metrics.Running{}, false
	}
	return metrics.Running{Operation: run.Kind, BytesDone: run.BytesDone, BytesTotal: run.BytesTotal}, true
}

// MetricsAddr is the address Config.MetricsAddr's listener bound ("" when
// there is none): with port 0 in the config, the port chosen.
func (h *Host) MetricsAddr() string { return h.metricsAddr }
