package host

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// handleRestore answers POST /api/backups/{key}/restore. It checks
// cheaply (the archive's central directory, through range reads) that the
// backup exists and holds data.db, takes the lock, answers 204, and
// restores in the background: the API stays up while the backup is fetched
// and extracted, and goes down only for the swap and the restart.
func (h *Host) handleRestore(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if h.cfg.Shutdown == nil {
		jsonapi.Write(w, jsonapi.BadRequest("Restore is not enabled in this application."))
		return
	}
	if h.ops.busy() {
		jsonapi.Write(w, jsonapi.BadRequest(msgBusy))
		return
	}
	key := ps.ByName("key")
	if !shared.ValidKey(key) {
		jsonapi.Write(w, jsonapi.BadRequest(msgInvalidBackup))
		return
	}
	// Beyond PocketBase: {"preRestoreBackup": true|false}; the setting
	// when absent (the SDKs' restore(key) sends no body).
	var body struct {
		PreRestoreBackup *bool `json:"preRestoreBackup"`
	}
	if err := jsonapi.ReadBody(r, &body); err != nil {
		jsonapi.Write(w, err)
		return
	}
	preBackup := h.currentSettings().Backups.PreRestoreBackup
	if body.PreRestoreBackup != nil {
		preBackup = *body.PreRestoreBackup
	}
	storageURL := h.storageURL()
	var sum shared.ArchiveSummary
	var info shared.BackupInfo
	err := h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		if info, err = b.Stat(r.Context(), storageURL, key); err != nil {
			return err
		}
		sum, err = b.Inspect(r.Context(), storageURL, key)
		return err
	})
	switch {
	case errors.Is(err, shared.ErrNoKey) || errors.Is(err, shared.ErrWrongKey):
		h.writeError(w, r, err)
		return
	case errors.Is(err, shared.ErrNotFound) || errors.Is(err, shared.ErrInvalid):
		h.log.Warn("restore refused", "key", key, "error", err)
		jsonapi.Write(w, jsonapi.BadRequest(msgInvalidBackup))
		return
	case err != nil:
		h.writeError(w, r, fmt.Errorf("inspect %q: %w", key, err))
		return
	case !sum.HasDataDB:
		jsonapi.Write(w, jsonapi.BadRequest(msgInvalidBackup))
		return
	}
	needs := h.restoreNeeds(storageURL, info.Size, sum.TotalBytes)
	if preBackup {
		more, err := h.createNeeds(r.Context(), storageURL)
		if err != nil {
			h.writeError(w, r, fmt.Errorf("restore %q: %w", key, err))
			return
		}
		needs = append(needs, more...)
	}
	if err := h.checkSpace(needs); err != nil {
		jsonapi.Write(w, err)
		return
	}
	if err := h.ops.begin(KindRestore, key); errors.Is(err, errKeyInUse) {
		// Being uploaded: not a backup yet.
		jsonapi.Write(w, jsonapi.BadRequest(msgInvalidBackup))
		return
	} else if err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(msgBusy))
		return
	}
	h.ops.progress(0, sum.TotalBytes)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.runRestore(storageURL, key, preBackup)
	}()
	w.WriteHeader(http.StatusNoContent)
}
