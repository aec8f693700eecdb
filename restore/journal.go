package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/filestamp"
)

// JournalFile is the journal's name inside the state directory.
const JournalFile = "restore-journal.json"

const journalVersion = 1

// Journal records an intended swap. Paths are absolute.
type Journal struct {
	Version int       `json:"version"`
	Key     string    `json:"key"`     // the backup being restored
	DataDir string    `json:"dataDir"` // the directory whose contents are swapped
	Staged  string    `json:"staged"`  // holds the new entries until moved in
	Old     string    `json:"old"`     // receives the old entries
	OldList []string  `json:"oldList"` // entries of DataDir to move out
	NewList []string  `json:"newList"` // entries of Staged to move in
	Started time.Time `json:"started"`
	// Checked stamps the staged files the caller verified before the
	// swap (see PrepareChecked); Resume hands them to its verification,
	// which need not check again what still matches them.
	Checked []filestamp.Stamp `json:"checked,omitempty"`

	fsys fileSystem // osFS when nil
}

// filesystem returns the filesystem the journal's swap runs on.
func (j *Journal) filesystem() fileSystem {
	if j.fsys == nil {
		return osFS{}
	}
	return j.fsys
}

// readJournal returns the journal in stateDir, or nil when there is none.
func readJournal(fsys fileSystem, stateDir string) (*Journal, error) {
	data, err := fsys.ReadFile(filepath.Join(stateDir, JournalFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read restore journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("parse restore journal: %w", err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("restore journal version %d, want %d", j.Version, journalVersion)
	}
	j.fsys = fsys
	return &j, nil
}

// removeJournal deletes the journal durably.
func removeJournal(fsys fileSystem, stateDir string) error {
	if err := fsys.Remove(filepath.Join(stateDir, JournalFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove restore journal: %w", err)
	}
	return fsys.SyncDir(stateDir)
}
