package host

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/host/retention"
	"github.com/pocketbackup/pocketbackup/shared"
)

// retentionPreviewPath is below /api/backups/: a backup of that exact
// name cannot be downloaded through GET (created names end in .zip).
const retentionPreviewPath = "retention-preview"

// previewJSON is the answer of GET /api/backups/retention-preview.
type previewJSON struct {
	Rule   previewRule  `json:"rule"`
	Keep   []backupJSON `json:"keep"`
	Delete []backupJSON `json:"delete"`
}

type previewRule struct {
	CronMaxKeep int               `json:"cronMaxKeep"`
	Retention   *retention.Policy `json:"retention"`
}

// handleRetentionPreview answers GET /api/backups/retention-preview: the
// scheduled backups a rotation run now would keep and delete. Without
// query parameters it applies the saved rule; keepLast, keepDaily,
// keepWeekly, keepMonthly (missing ones 0) preview a retention rule, and
// cronMaxKeep alone previews PocketBase's rule, before either is saved.
func (h *Host) handleRetentionPreview(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	rule, err := previewSettings(h.currentSettings().Backups, r.URL.Query())
	if err != nil {
		jsonapi.Write(w, err)
		return
	}
	var infos []shared.BackupInfo
	err = h.withPlugin(r.Context(), func(b shared.Backups) (err error) {
		infos, err = b.List(r.Context(), h.storageURL())
		return err
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("retention preview: %w", err))
		return
	}
	keep, forget := rotationPlan(rule, infos)
	out := previewJSON{Rule: previewRule{CronMaxKeep: rule.CronMaxKeep, Retention: rule.Retention},
		Keep: make([]backupJSON, 0, len(keep)), Delete: make([]backupJSON, 0, len(forget))}
	if out.Rule.Retention != nil && out.Rule.Retention.Empty() {
		out.Rule.Retention = nil
	}
	for _, b := range keep {
		out.Keep = append(out.Keep, toBackupJSON(b))
	}
	for _, b := range forget {
		out.Delete = append(out.Delete, toBackupJSON(b))
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
}

// previewSettings is saved with the rule the query names, or a 400 with
// the bad parameters in data.
func previewSettings(saved BackupsSettings, q url.Values) (BackupsSettings, error) {
	fields := map[string]any{}
	num := func(name string) (int, bool) {
		v, ok := q[name]
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || len(v) > 1 {
			fields[name] = jsonapi.FieldError{Code: "validation_invalid_number", Message: "Must be a whole number no less than 0."}
			return 0, false
		}
		return n, true
	}
	var p retention.Policy
	var named bool
	for name, dst := range map[string]*int{"keepLast": &p.Last, "keepDaily": &p.Daily, "keepWeekly": &p.Weekly, "keepMonthly": &p.Monthly} {
		if n, ok := num(name); ok {
			*dst, named = n, true
		}
	}
	maxKeep, hasMax := num("cronMaxKeep")
	if len(fields) > 0 {
		e := jsonapi.BadRequest(jsonapi.MsgValidation)
		for k, v := range fields {
			e.Data[k] = v
		}
		return saved, e
	}
	switch {
	case named:
		saved.Retention = &p
	case hasMax:
		saved.Retention, saved.CronMaxKeep = nil, maxKeep
	}
	return saved, nil
}
