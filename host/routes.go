package host

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// Register adds the health and Backups routes to r.
//
// httprouter panics when a static segment and a :param share a position
// under one method (POST /api/backups/upload vs POST
// /api/backups/:key/restore), and a :key never matches a decoded "/". So
// everything below /api/backups/ goes through one catch-all per method that
// splits the rest itself: every answer there, including for keys that try
// to leave the store, is the contract's JSON.
func (h *Host) Register(r *httprouter.Router) {
	guard := h.cfg.Auth.RequireSuperuser
	r.GET("/api/health", h.handleHealth)
	r.GET("/api/backups", guard(h.handleList))
	r.POST("/api/backups", guard(h.handleCreate))
	r.GET("/api/settings", guard(h.handleGetSettings))
	r.PATCH("/api/settings", guard(h.handlePatchSettings))
	r.POST("/api/settings/test/s3", guard(h.handleTestS3))
	r.POST("/api/settings/test/notify", guard(h.handleTestNotify))
	r.GET("/api/settings/notify/log", guard(h.handleNotifyLog))
	r.GET("/metrics", guard(h.handleMetrics))
	r.GET("/api/crons", guard(h.handleListCrons))
	r.POST("/api/crons/:id", guard(h.handleRunCron))
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete, http.MethodPatch} {
		r.Handle(method, "/api/backups/*rest", h.dispatch)
	}
	if h.webui != nil {
		r.Handler(http.MethodGet, h.cfg.WebUIPath+"*file", h.webui)
		r.Handler(http.MethodHead, h.cfg.WebUIPath+"*file", h.webui)
	}
}

// dispatch routes the requests below /api/backups/.
func (h *Host) dispatch(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	rest := strings.TrimPrefix(ps.ByName("rest"), "/")
	guard := h.cfg.Auth.RequireSuperuser
	keyParams := func(key string) httprouter.Params { return httprouter.Params{{Key: "key", Value: key}} }
	switch r.Method {
	case http.MethodPost:
		if rest == "upload" {
			guard(h.handleUpload)(w, r, ps)
			return
		}
		if key, ok := strings.CutSuffix(rest, "/restore"); ok {
			guard(h.handleRestore)(w, r, keyParams(key))
			return
		}
		if key, ok := strings.CutSuffix(rest, "/verify"); ok {
			guard(h.handleVerify)(w, r, keyParams(key))
			return
		}
	case http.MethodGet, http.MethodHead:
		if rest == retentionPreviewPath && r.Method == http.MethodGet {
			guard(h.handleRetentionPreview)(w, r, ps)
			return
		}
		// The download checks its file token first, then the key.
		h.handleDownload(w, r, keyParams(rest))
		return
	case http.MethodDelete:
		guard(h.handleDelete)(w, r, keyParams(rest))
		return
	case http.MethodPatch:
		guard(h.handlePin)(w, r, keyParams(rest))
		return
	}
	jsonapi.Write(w, jsonapi.NotFound())
}
