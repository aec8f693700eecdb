package host

import (
	"context"
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
	// Next is the next scheduled run, in the contract's date format
	// (beyond PocketBase: the page shows it in UTC and the browser's zone).
	Next string `json:"next,omitempty"`
}

// handleListCrons answers GET /api/crons.
func (h *Host) handleListCrons(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	jobs := h.cron.Jobs()
	out := make([]cronJob, 0, len(jobs))
	for _, j := range jobs {
		job := cronJob{ID: j.ID, Expression: j.Expression}
		if next, ok := h.cron.NextRun(j.ID); ok && !next.IsZero() {
			job.Next = formatTime(next)
		}
		out = append(out, job)
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
}

// runningGrace bounds how long POST /api/crons/{id} waits for a run of the
// job still returning before it answers that the job is running.
const runningGrace = 2 * time.Second

// handleRunCron answers POST /api/crons/{id}: the job starts now.
func (h *Host) handleRunCron(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("id")
	err := h.cron.Run(h.ctx, id)
	if errors.Is(err, cron.ErrJobRunning) {
		// A run whose outcome is already visible may still be returning:
		// wait for it to return rather than refuse a client that waited for
		// the outcome; a run that goes on past runningGrace is refused.
		wait, cancel := context.WithTimeout(r.Context(), runningGrace)
		defer cancel()
	waiting:
		for errors.Is(err, cron.ErrJobRunning) {
			select {
			case <-h.cron.Done(id):
				err = h.cron.Run(h.ctx, id)
			case <-wait.Done():
				if r.Context().Err() != nil {
					return
				}
				break waiting
			}
		}
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
