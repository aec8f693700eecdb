package host

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// maxSettingsBody bounds a PATCH /api/settings body.
const maxSettingsBody = 64 << 10

// currentSettings returns a copy of the settings in force.
func (h *Host) currentSettings() Settings {
	h.settingsMu.RLock()
	defer h.settingsMu.RUnlock()
	return h.settings
}

// storageURL is where backups go right now: the S3 bucket when the
// settings enable it, otherwise the configured storage. An operation reads
// it once at its start and finishes on that storage.
func (h *Host) storageURL() string { return h.storageURLFor(h.currentSettings()) }

// storageURLFor is the storage URL settings s name.
func (h *Host) storageURLFor(s Settings) string {
	if s.Backups.S3.Enabled {
		return s.s3URL(h.cfg.S3Prefix)
	}
	return h.cfg.StorageURL
}

// handleGetSettings answers GET /api/settings.
func (h *Host) handleGetSettings(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	jsonapi.WriteJSON(w, http.StatusOK, h.currentSettings().public())
}

// handlePatchSettings answers PATCH /api/settings: validate, persist,
// apply (storage for the next operation, the schedule at once).
func (h *Host) handlePatchSettings(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(""))
		return
	}
	// A changed staleAfter is judged at once, after the lock is let go.
	defer h.wakeFreshness()
	defer h.checkFreshness()
	h.settingsMu.Lock()
	defer h.settingsMu.Unlock()
	next, err := h.settings.patched(body)
	if err != nil {
		jsonapi.Write(w, err)
		return
	}
	if h.cfg.Settings != nil {
		data, err := marshalSettings(next, h.keys)
		if err == nil {
			err = h.cfg.Settings.SaveSettings(r.Context(), data)
		}
		if err != nil {
			h.writeError(w, r, fmt.Errorf("save settings: %w", err))
			return
		}
	}
	h.settings = next
	if err := h.schedule(next); err != nil {
		h.log.Error("apply backup schedule", "error", err)
	}
	h.log.Info("settings updated", "cron", next.Backups.Cron, "cronMaxKeep", next.Backups.CronMaxKeep,
		"s3", next.Backups.S3.Enabled, "storage", shared.Redact(h.storageURLFor(next)))
	jsonapi.WriteJSON(w, http.StatusOK, next.public())
}

// handleTestS3 answers POST /api/settings/test/s3: it writes, reads back
// and deletes a probe object with the S3 settings that PATCH /api/settings
// would save given the same body: the saved ones for the SDKs' body
// ({"filesystem":"backups"}), or the saved ones with a JSON body's
// "backups" object applied, merged (an empty secret keeps the stored one)
// and validated exactly as PATCH does. Nothing is saved.
func (h *Host) handleTestS3(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(""))
		return
	}
	var body struct {
		Filesystem string `json:"filesystem"`
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err := jsonapi.ReadBody(r, &body); err != nil {
		jsonapi.Write(w, err)
		return
	}
	if body.Filesystem != "backups" {
		jsonapi.Write(w, jsonapi.Validation("filesystem", "validation_in_invalid", "Must be a valid value."))
		return
	}
	s, err := h.currentSettings().patched(settingsPatchOf(r, raw))
	if err != nil {
		jsonapi.Write(w, err)
		return
	}
	if s.Backups.S3.Bucket == "" || s.Backups.S3.Endpoint == "" {
		jsonapi.Write(w, jsonapi.BadRequest("S3 storage for backups is not configured."))
		return
	}
	if err := h.probeStorage(r.Context(), s.s3URL(h.cfg.S3Prefix)); err != nil {
		h.log.Warn("S3 test failed", "error", err)
		jsonapi.Write(w, jsonapi.BadRequest("Failed to use the S3 storage: "+probeHint(err)))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// probeStorage round-trips a small object through the plugin.
func (h *Host) probeStorage(ctx context.Context, storageURL string) error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	key := "pocketbackup_probe_" + hex.EncodeToString(rnd[:]) + ".zip"
	var probe bytes.Buffer
	zw := zip.NewWriter(&probe)
	if err := zw.Close(); err != nil {
		return err
	}
	b, err := h.backups(ctx)
	if err != nil {
		return err
	}
	if _, err := b.Upload(ctx, storageURL, key, bytes.NewReader(probe.Bytes())); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	dl, err := b.Open(ctx, storageURL, key, 0, -1)
	if err == nil {
		var got []byte
		got, err = io.ReadAll(dl)
		err = errors.Join(err, dl.Close())
		if err == nil && !bytes.Equal(got, probe.Bytes()) {
			err = errors.New("probe read back differs")
		}
	}
	if delErr := b.Delete(ctx, storageURL, key); err == nil && delErr != nil {
		err = fmt.Errorf("delete probe: %w", delErr)
	}
	return err
}

// probeHint is a client-safe explanation of a failed probe.
func probeHint(err error) string {
	switch {
	case errors.Is(err, shared.ErrNotFound), errors.Is(err, shared.ErrNoBucket):
		return "the bucket was not found."
	case errors.Is(err, shared.ErrInvalid):
		return "the settings are not valid for this storage."
	case errors.Is(err, shared.ErrAccessDenied):
		return "the storage refused the credentials."
	case errors.Is(err, shared.ErrStorageUnreachable):
		return "the endpoint could not be reached or did not answer in time."
	default:
		return "could not write, read back and delete a test object (check the endpoint, region, bucket and credentials)."
	}
}

// settingsPatchOf is a test route's body as a settings patch to try
// unsaved values with: the body when it is JSON, "{}" otherwise.
func settingsPatchOf(r *http.Request, raw []byte) []byte {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if len(bytes.TrimSpace(raw)) > 0 && (ct == "" || ct == "application/json" || strings.HasSuffix(ct, "+json")) {
		return raw
	}
	return []byte("{}")
}
