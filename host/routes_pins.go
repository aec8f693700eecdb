package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Pins (beyond PocketBase): a pinned backup is never rotated and is
// refused deletion until unpinned. The pin lives with the backup in its
// storage (through the plugin), so other hosts over the same storage and
// a restored data directory see it.

const (
	msgPinned         = "The backup is pinned and cannot be deleted; unpin it first."
	msgPinUnsupported = "The backups storage cannot keep pins."
)

// handlePin answers PATCH /api/backups/{key} with {"pinned": true|false}:
// 200 with the backup as the list shows it.
func (h *Host) handlePin(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	key := ps.ByName("key")
	if !shared.ValidKey(key) {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	var body struct {
		Pinned *bool `json:"pinned"`
	}
	if err := jsonapi.ReadBody(r, &body); err != nil {
		jsonapi.Write(w, err)
		return
	}
	if body.Pinned == nil {
		jsonapi.Write(w, jsonapi.Validation("pinned", "validation_required", "Must be true or false."))
		return
	}
	var info shared.BackupInfo
	err := h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		info, err = setPinned(r.Context(), b, h.storageURL(), key, *body.Pinned)
		return err
	})
	switch {
	case errors.Is(err, shared.ErrUnsupported):
		h.log.Warn("pin refused", "key", key, "error", err)
		jsonapi.Write(w, jsonapi.BadRequest(msgPinUnsupported))
		return
	case err != nil:
		h.writeError(w, r, fmt.Errorf("pin %q: %w", key, err))
		return
	}
	h.log.Info("backup pin set", "key", key, "pinned", info.Pinned)
	jsonapi.WriteJSON(w, http.StatusOK, toBackupJSON(info))
}

// setPinned pins key through b, when b can.
func setPinned(ctx context.Context, b shared.Backups, storageURL, key string, pinned bool) (shared.BackupInfo, error) {
	p, ok := b.(shared.Pinner)
	if !ok {
		return shared.BackupInfo{}, fmt.Errorf("pin: %w", shared.ErrUnsupported)
	}
	return p.SetPinned(ctx, storageURL, key, pinned)
}
