package host

import (
	"io"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// Messages of the notify routes.
const (
	msgNoNotifyChannel = "No notification channel is configured."
	msgNotifyFailed    = "Failed to deliver the test notification."
)

// handleNotifyLog answers GET /api/settings/notify/log: the latest
// delivery attempts, newest first (targets redacted, no secrets).
func (h *Host) handleNotifyLog(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"items": h.notifier.Log()})
}

// handleTestNotify answers POST /api/settings/test/notify: it sends a
// test event to every channel of the saved notify settings (with a JSON
// body's "backups" object applied as PATCH would, not saved) and reports
// what each receiver answered: 200 when all took it, 400 with the same
// results in data when one did not.
func (h *Host) handleTestNotify(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(""))
		return
	}
	s, err := h.currentSettings().patched(settingsPatchOf(r, raw))
	if err != nil {
		jsonapi.Write(w, err)
		return
	}
	cfg := s.Backups.Notify.config()
	if cfg.Empty() {
		jsonapi.Write(w, jsonapi.BadRequest(msgNoNotifyChannel))
		return
	}
	results := h.notifier.Test(r.Context(), cfg)
	for _, res := range results {
		if !res.OK {
			h.log.Warn("test notification failed", "channel", res.Channel, "target", res.Target, "error", res.Error)
			e := jsonapi.BadRequest(msgNotifyFailed)
			e.Data["results"] = results
			jsonapi.Write(w, e)
			return
		}
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}
