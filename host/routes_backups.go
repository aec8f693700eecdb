package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// backupNameRule is what a created backup's name must match.
var backupNameRule = regexp.MustCompile(`^[a-z0-9_-]+\.zip$`)

const maxBackupName = 150

// backupJSON is a backup as the API lists it.
type backupJSON struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"`
	Modified string `json:"modified"`
	// Encrypted is there only for backups encrypted at rest.
	Encrypted bool `json:"encrypted,omitempty"`
}

// handleList answers GET /api/backups, newest first.
func (h *Host) handleList(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var infos []shared.BackupInfo
	err := h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		infos, err = b.List(r.Context(), h.storageURL())
		return err
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("list backups: %w", err))
		return
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Modified.After(infos[j].Modified) })
	out := make([]backupJSON, 0, len(infos))
	for _, info := range infos {
		out = append(out, backupJSON{Key: info.Key, Size: info.Size, Modified: formatTime(info.Modified), Encrypted: info.Encrypted})
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
}

// handleCreate answers POST /api/backups: it validates the name, takes the
// lock, answers 204 and builds the backup in the background.
func (h *Host) handleCreate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if h.ops.busy() {
		jsonapi.Write(w, jsonapi.BadRequest(msgBusy))
		return
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := jsonapi.ReadBody(r, &body); err != nil {
		jsonapi.Write(w, err)
		return
	}
	name := body.Name
	if name == "" {
		name = "pb_backup_" + h.now().UTC().Format("20060102150405") + ".zip"
	}
	if err := validateBackupName(name); err != nil {
		jsonapi.Write(w, err)
		return
	}
	if err := h.ensureNameFree(r.Context(), "name", name); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.ops.begin(KindCreate, name); errors.Is(err, errKeyInUse) {
		jsonapi.Write(w, nameTaken("name", name))
		return
	} else if err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(msgBusy))
		return
	}
	storageURL := h.storageURL()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.runCreate(storageURL, name)
	}()
	w.WriteHeader(http.StatusNoContent)
}

func (h *Host) now() time.Time { return h.clock.Now() }

// validateBackupName applies the create rules of the contract.
func validateBackupName(name string) error {
	if len(name) > maxBackupName {
		return jsonapi.Validation("name", "validation_length_out_of_range", "The length must be between 1 and 150.")
	}
	if !backupNameRule.MatchString(name) {
		return jsonapi.Validation("name", "validation_match_invalid", "Must be in a valid format.")
	}
	return nil
}

// ensureNameFree answers the contract's 400, on field, when name is taken.
func (h *Host) ensureNameFree(ctx context.Context, field, name string) error {
	err := h.withPlugin(ctx, func(b shared.Backups) error {
		_, err := b.Stat(ctx, h.storageURL(), name)
		return err
	})
	switch {
	case err == nil:
		return nameTaken(field, name)
	case errors.Is(err, shared.ErrNotFound):
		return nil
	default:
		return fmt.Errorf("stat %q: %w", name, err)
	}
}

func nameTaken(field, name string) *jsonapi.Error {
	return jsonapi.BadRequest(fmt.Sprintf("A backup with the name %q already exists.", name)).
		WithField(field, "validation_backup_name_exists", "The backup file name is invalid or already exists.")
}

// handleDelete answers DELETE /api/backups/{key}.
func (h *Host) handleDelete(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	key := ps.ByName("key")
	if !shared.ValidKey(key) {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	if h.ops.uses(key) {
		jsonapi.Write(w, jsonapi.BadRequest(msgInUse))
		return
	}
	err := h.withPlugin(r.Context(), func(b shared.Backups) error {
		return b.Delete(r.Context(), h.storageURL(), key)
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("delete %q: %w", key, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
