package host

import (
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/cron"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// cronJob is a job as GET /api/crons lists it.
type cronJob struct {
	ID         string `json:"id"`
	Expression string `json:"expression"`
}

// handleListCrons answers GET /api/crons.
func (h *Host) handleListCrons(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	jobs := h.cron.Jobs()
	out := make([]cronJob, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, cronJob{ID: j.ID, Expression: j.Expression})
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
}

// handleRunCron answers POST /api/crons/{id}: the job starts now.
func (h *Host) handleRunCron(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	// A run whose outcome is already visible may still be returning: give
	// it a moment rather than refuse a client that waited for the outcome.
	err := h.cron.Run(h.ctx, ps.ByName("id"))
	for tries := 0; errors.Is(err, cron.ErrJobRunning) && tries < 20; tries++ {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		err = h.cron.Run(h.ctx, ps.ByName("id"))
	}
	switch {
	case errors.Is(err, cron.ErrUnknownJob):
		jsonapi.Write(w, jsonapi.NotFound())
	case errors.Is(err, cron.ErrJobRunning):
		jsonapi.Write(w, jsonapi.BadRequest("The job is already running."))
	case err != nil:
		h.writeError(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
