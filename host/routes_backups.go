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

// backupJSON is a backup as the API lists it: PocketBase's fields, then
// what this project adds where it is known (empty fields are left out;
// the SDKs ignore fields they do not know).
type backupJSON struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"`
	Modified string `json:"modified"`
	// Pinned is beyond PocketBase, sent only when true: an unpinned
	// backup is listed exactly as PocketBase lists it.
	Pinned bool `json:"pinned,omitempty"`
	// SHA256 is the digest recorded when the backup was stored.
	SHA256 string `json:"sha256,omitempty"`
	// VerifiedAt and Verify are the last verification: when, and "ok" or
	// what was wrong; VerifyFirstSeen when the digest was first recorded
	// by that verification (nothing proven about the time before).
	VerifiedAt      string `json:"verifiedAt,omitempty"`
	Verify          string `json:"verify,omitempty"`
	VerifyFirstSeen bool   `json:"verifyFirstSeen,omitempty"`
	// Encrypted is there only for backups encrypted at rest.
	Encrypted bool `json:"encrypted,omitempty"`
}

// backupItem is info as the list shows it.
func (h *Host) backupItem(info shared.BackupInfo) backupJSON {
	item := toBackupJSON(info)
	if v, ok := h.verified.get(info); ok {
		item.VerifiedAt, item.Verify, item.VerifyFirstSeen = formatTime(v.At), v.Verdict, v.FirstSeen
	}
	return item
}

// toBackupJSON is info as the list shows it, without the last
// verification.
func toBackupJSON(info shared.BackupInfo) backupJSON {
	return backupJSON{Key: info.Key, Size: info.Size, Modified: formatTime(info.Modified), SHA256: info.SHA256, Pinned: info.Pinned, Encrypted: info.Encrypted}
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
	h.listed(infos)
	out := make([]backupJSON, 0, len(infos))
	for _, info := range infos {
		out = append(out, h.backupItem(info))
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
	storageURL := h.storageURL()
	needs, err := h.createNeeds(r.Context(), storageURL)
	if err == nil {
		err = h.checkSpace(needs)
	}
	if err != nil {
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
	storageURL := h.storageURL()
	var info shared.BackupInfo
	err := h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		info, err = b.Stat(r.Context(), storageURL, key)
		return err
	})
	if err == nil && info.Pinned {
		jsonapi.Write(w, jsonapi.BadRequest(msgPinned))
		return
	}
	if err == nil {
		err = h.withPlugin(r.Context(), func(b shared.Backups) error {
			return b.Delete(r.Context(), storageURL, key)
		})
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("delete %q: %w", key, err))
		return
	}
	if err := h.verified.forget(key); err != nil {
		h.log.Warn("forgetting a deleted backup's verification failed", "key", key, "error", err)
	}
	w.WriteHeader(http.StatusNoContent)
}
