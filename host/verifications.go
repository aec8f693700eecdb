package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/shared"
)

// verificationsFile keeps the last verification of each backup, in the
// host's state folder (never archived, never swapped by a restore).
const verificationsFile = "verifications.json"

// maxVerifications caps the records kept; the oldest go first.
const maxVerifications = 10000

// verification is the last verification of one backup. It belongs to the
// stored object it was made of: the list shows it only while the backup
// has the same size and digest (or, without a digest, modification time),
// so a backup deleted and made again under its key, or another storage
// with the same key, never shows another's verdict.
type verification struct {
	Key      string    `json:"key"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256,omitempty"`
	Modified time.Time `json:"modified"`
	At       time.Time `json:"at"`
	Mode     string    `json:"mode"`
	// Verdict is "ok" or what is wrong.
	Verdict   string `json:"verdict"`
	FirstSeen bool   `json:"firstSeen,omitempty"`
}

// matches reports whether v was made of the backup info describes.
func (v verification) matches(info shared.BackupInfo) bool {
	if v.Size != info.Size {
		return false
	}
	if info.SHA256 != "" {
		return v.SHA256 == info.SHA256
	}
	return v.Modified.Equal(info.Modified)
}

// verifications is the record of last verifications, persisted durably.
type verifications struct {
	path string

	mu    sync.Mutex
	byKey map[string]verification
}

// loadVerifications reads the records of dataDir; a missing or unreadable
// file starts an empty record (it only holds what verify can redo).
func loadVerifications(dataDir string) (*verifications, error) {
	v := &verifications{path: filepath.Join(stateDir(dataDir), verificationsFile), byKey: map[string]verification{}}
	data, err := os.ReadFile(v.path)
	if errors.Is(err, os.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("read verifications: %w", err)
	}
	var list []verification
	if err := json.Unmarshal(data, &list); err != nil {
		return v, fmt.Errorf("parse verifications: %w", err)
	}
	for _, r := range list {
		v.byKey[r.Key] = r
	}
	return v, nil
}

// get returns the record that belongs to info, if any.
func (v *verifications) get(info shared.BackupInfo) (verification, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.byKey[info.Key]
	if !ok || !r.matches(info) {
		return verification{}, false
	}
	return r, true
}

// put records r and saves the record.
func (v *verifications) put(r verification) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byKey[r.Key] = r
	if len(v.byKey) > maxVerifications {
		oldest := r
		for _, x := range v.byKey {
			if x.At.Before(oldest.At) {
				oldest = x
			}
		}
		delete(v.byKey, oldest.Key)
	}
	return v.saveLocked()
}

// forget drops key's record (its backup was deleted).
func (v *verifications) forget(key string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.byKey[key]; !ok {
		return nil
	}
	delete(v.byKey, key)
	return v.saveLocked()
}

func (v *verifications) saveLocked() error {
	list := make([]verification, 0, len(v.byKey))
	for _, r := range v.byKey {
		list = append(list, r)
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(v.path), 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if err := durable.WriteFileAtomic(v.path, data, 0o600); err != nil {
		return fmt.Errorf("save verifications: %w", err)
	}
	return nil
}
