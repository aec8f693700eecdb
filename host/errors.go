package host

import (
	"context"
	"errors"
	"net/http"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// Messages of the Backups API (CONTRACT.md).
const (
	msgBusy           = "Try again later - another backup/restore process has already been started."
	msgInUse          = "The backup is currently being used and cannot be deleted."
	msgInvalidBackup  = "Missing or invalid backup file."
	msgFilePermission = "Insufficient permissions to access the resource."

	// The storage itself failing (beyond: PocketBase hides the cause).
	msgNoBucket           = "The backups storage bucket or container does not exist."
	msgAccessDenied       = "The backups storage refused access; check its credentials."
	msgStorageUnreachable = "The backups storage could not be reached or did not answer in time."
)

// storageAPIError is the 503 for a failure of the storage itself, or nil.
func storageAPIError(err error) *jsonapi.Error {
	switch {
	case errors.Is(err, shared.ErrNoBucket):
		return jsonapi.New(http.StatusServiceUnavailable, msgNoBucket)
	case errors.Is(err, shared.ErrAccessDenied):
		return jsonapi.New(http.StatusServiceUnavailable, msgAccessDenied)
	case errors.Is(err, shared.ErrStorageUnreachable):
		return jsonapi.New(http.StatusServiceUnavailable, msgStorageUnreachable)
	}
	return nil
}

// writeError logs err and sends the client the matching API error: an
// *jsonapi.Error as is, a not-found kind as 404, a failure of the storage
// itself as a 503 naming it, anything else as a 500 whose text stays in
// the log.
func (h *Host) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *jsonapi.Error
	switch {
	case errors.As(err, &apiErr):
	case errors.Is(err, shared.ErrNotFound):
		apiErr = jsonapi.NotFound()
	case errors.Is(err, shared.ErrNoKey):
		h.log.Warn("request refused: no encryption key", "method", r.Method, "path", r.URL.Path, "error", err)
		apiErr = keyError(msgNoKey)
	case errors.Is(err, shared.ErrWrongKey):
		h.log.Warn("request refused: wrong encryption key", "method", r.Method, "path", r.URL.Path, "error", err)
		apiErr = keyError(msgWrongKey)
	case storageAPIError(err) != nil:
		h.log.Error("request failed: backups storage", "method", r.Method, "path", r.URL.Path, "error", err)
		h.metrics.StorageError(storageKind(err))
		apiErr = storageAPIError(err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		return
	default:
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		apiErr = jsonapi.Internal()
	}
	jsonapi.Write(w, apiErr)
}

// publicError is what superusers see of a failed operation in
// /api/health: the stage and the kind of failure, never a path, a driver
// message or a credential.
func publicError(stage string, err error) string {
	switch {
	case errors.Is(err, shared.ErrNoSpace):
		return stage + ": not enough free space."
	case errors.Is(err, shared.ErrNoBucket):
		return stage + ": the storage bucket or container does not exist."
	case errors.Is(err, shared.ErrAccessDenied):
		return stage + ": the storage refused access; check its credentials."
	case errors.Is(err, shared.ErrStorageUnreachable):
		return stage + ": the storage could not be reached or did not answer in time."
	case errors.Is(err, shared.ErrExists):
		return stage + ": a backup with that name already exists."
	case errors.Is(err, shared.ErrNotFound):
		return stage + ": the backup file was not found."
	case errors.Is(err, sqlitesnap.ErrCheckerLimit):
		return stage + ": checking the restored databases went over its time or memory limit; the data was not changed."
	case errors.Is(err, shared.ErrDigestMismatch):
		return stage + ": the backup's content does not match the SHA-256 recorded when it was stored (damaged or altered in storage); nothing was changed."
	case errors.Is(err, shared.ErrNoKey):
		return stage + ": the backup is encrypted and no encryption key is configured."
	case errors.Is(err, shared.ErrWrongKey):
		return stage + ": none of the configured encryption keys can decrypt the backup."
	case errors.Is(err, shared.ErrInvalid):
		return stage + ": the backup file is not a valid archive (or its encryption is damaged)."
	case errors.Is(err, shared.ErrUnavailable):
		return stage + ": the backup plugin stopped; it is restarted on the next operation."
	case errors.Is(err, context.Canceled):
		return stage + ": cancelled because the server is shutting down."
	default:
		return stage + ": see the server log for details."
	}
}
