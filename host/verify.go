package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/shared"
)

// VerifyOutcome is what a verification found, shown in /api/health's
// lastOperation.verify.
type VerifyOutcome struct {
	Mode string `json:"mode"`
	// SHA256 is the digest of the bytes read.
	SHA256 string `json:"sha256,omitempty"`
	// FirstSeen: the backup had no digest; the one read was recorded now,
	// so nothing is proven about the time before.
	FirstSeen bool   `json:"firstSeen,omitempty"`
	Note      string `json:"note,omitempty"`
	Entries   int    `json:"entries"`
	// Databases and Tables are a deep verify's: the SQLite databases
	// checked, and data.db's tables with their row counts.
	Databases  []string               `json:"databases,omitempty"`
	Tables     []sqlitesnap.TableRows `json:"tables,omitempty"`
	MoreTables int                    `json:"moreTables,omitempty"`
	// Problem is empty when the backup is good.
	Problem string `json:"problem,omitempty"`
}

// firstSeenNote is how a verdict on a backup without digest is qualified.
const firstSeenNote = "First seen now, not proven since creation: the backup had no recorded SHA-256; the one read is recorded from now on."

// handleVerify answers POST /api/backups/{key}/verify {"mode":"quick"|"deep"}:
// it checks the key and mode, takes the one-operation lock, answers 204
// and verifies in the background.
func (h *Host) handleVerify(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	key := ps.ByName("key")
	if !shared.ValidKey(key) {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	var body struct {
		Mode string `json:"mode"`
	}
	if err := jsonapi.ReadBody(r, &body); err != nil {
		jsonapi.Write(w, err)
		return
	}
	mode := body.Mode
	if mode == "" {
		mode = shared.VerifyQuick
	}
	if mode != shared.VerifyQuick && mode != shared.VerifyDeep {
		jsonapi.Write(w, jsonapi.Validation("mode", "validation_in_invalid", `Must be "quick" or "deep".`))
		return
	}
	storageURL := h.storageURL()
	err := h.withPlugin(r.Context(), func(b shared.Backups) error {
		_, err := b.Stat(r.Context(), storageURL, key)
		return err
	})
	if errors.Is(err, shared.ErrNotFound) {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("verify %q: %w", key, err))
		return
	}
	if err := h.ops.begin(KindVerify, key); err != nil {
		jsonapi.Write(w, jsonapi.BadRequest(msgBusy))
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.runVerify(storageURL, key, mode)
	}()
	w.WriteHeader(http.StatusNoContent)
}

// runVerify verifies key, records the verdict with the backup and as the
// last operation, logs a failure at error level, and releases the lock.
// The caller holds the lock.
func (h *Host) runVerify(storageURL, key, mode string) {
	start := time.Now()
	v, err := h.verify(h.ctx, storageURL, key, mode)
	switch {
	case err != nil:
		h.log.Error("verify could not run", "key", key, "mode", mode, "error", err)
		h.finishVerify(publicError("Failed to verify backup", err), nil)
	case v.Problem != "":
		h.log.Error("backup verification failed", "key", key, "mode", mode, "reason", v.Problem)
		h.finishVerify("Backup verification failed: "+v.Problem, v)
	default:
		h.log.Info("backup verified", "key", key, "mode", mode, "first_seen", v.FirstSeen, "seconds", time.Since(start).Seconds())
		h.finishVerify("", v)
	}
}

// finishVerify is finish for a verify: the outcome keeps what it found.
func (h *Host) finishVerify(publicErr string, v *VerifyOutcome) {
	h.ops.finishVerify(publicErr, v)
	if _, last := h.ops.snapshot(); last != nil {
		if err := saveOutcome(h.cfg.DataDir, last); err != nil {
			h.log.Error("persist operation outcome", "error", err)
		}
	}
}

// verify has the plugin read and check the backup (in a scratch folder on
// the data directory's filesystem, removed whatever happens), then for a
// deep verify checks the extracted databases in the checker process. An
// error means the verification could not run; a bad backup is a
// VerifyOutcome with Problem set. Either verdict is recorded.
func (h *Host) verify(ctx context.Context, storageURL, key, mode string) (_ *VerifyOutcome, err error) {
	scratch, err := os.MkdirTemp(filepath.Join(h.cfg.DataDir, tempDirName), "verify-")
	if err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(scratch)) }()
	b, err := h.backups(ctx)
	if err != nil {
		return nil, err
	}
	info, err := b.Stat(ctx, storageURL, key)
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	res, err := b.Verify(ctx, shared.VerifyRequest{StorageURL: storageURL, Key: key, Mode: mode, ScratchDir: scratch},
		func(p shared.Progress) { h.ops.progress(p.Done, p.Total) })
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v := &VerifyOutcome{Mode: mode, SHA256: res.SHA256, FirstSeen: res.FirstSeen, Entries: res.Entries, Problem: res.Problem}
	if v.FirstSeen {
		v.Note = firstSeenNote
	}
	if v.Problem == "" && mode == shared.VerifyDeep {
		// Where the plugin extracted, by the host's own reckoning.
		extracted := filepath.Join(scratch, "data")
		rep, err := sqlitesnap.DeepCheckInChild(ctx, extracted, h.checkerLimits(extracted))
		switch {
		case errors.Is(err, sqlitesnap.ErrCheckFailed):
			v.Problem = err.Error()
		case err != nil:
			return nil, fmt.Errorf("check databases: %w", err)
		default:
			v.Databases, v.Tables, v.MoreTables = rep.Databases, rep.Tables, rep.MoreTables
		}
	}
	rec := verification{Key: key, Size: info.Size, SHA256: info.SHA256, Modified: info.Modified,
		At: h.now().UTC(), Mode: mode, Verdict: "ok", FirstSeen: v.FirstSeen}
	if rec.SHA256 == "" {
		rec.SHA256 = res.SHA256 // recorded with the backup now
	}
	if v.Problem != "" {
		rec.Verdict = v.Problem
	}
	if err := h.verified.put(rec); err != nil {
		h.log.Warn("recording the verification failed", "key", key, "error", err)
	}
	return v, nil
}
