package host

import (
	"context"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/shared"
)

// refreshTimeout bounds the storage listing a scrape makes; past it the
// scrape shows the last listing's figures.
const refreshTimeout = 10 * time.Second

// handleMetrics answers GET /metrics (superusers only on the app's own
// address): the Prometheus text format, after a fresh listing of the
// storage for the stored-backups gauges.
func (h *Host) handleMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	h.MetricsHandler().ServeHTTP(w, r)
}

// MetricsHandler serves the metrics without authentication, for an app
// that exposes them on a private address of its own (Config.MetricsAddr
// does this for it).
func (h *Host) MetricsHandler() http.Handler {
	inner := h.metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.refreshStored(r.Context())
		inner.ServeHTTP(w, r)
	})
}

// refreshStored lists the storage for the stored-backups gauges; a
// failure of the storage counts as a storage error and leaves them as
// they were.
func (h *Host) refreshStored(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	var infos []shared.BackupInfo
	err := h.withPlugin(ctx, func(b shared.Backups) (err error) {
		infos, err = b.List(ctx, h.storageURL())
		return err
	})
	if err != nil {
		if sk := storageKind(err); sk != "" {
			h.metrics.StorageError(sk)
		}
		h.log.Warn("metrics: list backups", "error", err)
		return
	}
	h.listed(infos)
}
