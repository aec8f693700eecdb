package host

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// healthResponse is PocketBase's health shape.
type healthResponse struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// handleHealth answers GET /api/health. Superusers also see whether a
// backup can start, the running operation and the last one's outcome, and,
// as in PocketBase and BosBase, realIP (the client address the login limit
// counts), possibleProxyHeader (a forwarding header sent by a peer that is
// not a trusted proxy: the app probably runs behind a proxy not set as
// trusted; "" otherwise), requireS3 (BosBase's; backups never require
// S3 here), lastGoodBackup and stale (the dead-man's switch) and, when the
// next create or restore may not fit, diskWarning.
func (h *Host) handleHealth(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	resp := healthResponse{Code: http.StatusOK, Message: "API is healthy.", Data: map[string]any{}}
	if rec, ok := h.cfg.Auth.Authenticate(r); ok && rec.IsSuperuser() {
		running, last := h.ops.snapshot()
		resp.Data["canBackup"] = running == nil
		resp.Data["operation"] = running
		resp.Data["lastOperation"] = last
		resp.Data["realIP"] = h.cfg.Auth.ClientIP(r)
		resp.Data["possibleProxyHeader"] = h.cfg.Auth.Proxies().UntrustedHeader(r)
		resp.Data["requireS3"] = false
		resp.Data["lastGoodBackup"], resp.Data["stale"] = h.freshnessView()
		if warn := h.spaceWarning(); warn != "" {
			resp.Data["diskWarning"] = warn
		}
	}
	jsonapi.WriteJSON(w, http.StatusOK, resp)
}
