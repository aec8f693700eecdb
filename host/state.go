package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketbackup/pocketbackup/internal/durable"
)

// stateDirName is the host's own folder inside the data directory: the
// restore journal and the last operation's outcome. It is never archived
// and never swapped by a restore.
const stateDirName = ".pocketbackup"

// lastOperationFile keeps the last operation's outcome across restarts.
const lastOperationFile = "last-operation.json"

func stateDir(dataDir string) string { return filepath.Join(dataDir, stateDirName) }

// saveOutcome persists the last operation's outcome durably.
func saveOutcome(dataDir string, o *Outcome) error {
	if err := os.MkdirAll(stateDir(dataDir), 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(filepath.Join(stateDir(dataDir), lastOperationFile), data, 0o600); err != nil {
		return fmt.Errorf("save last operation: %w", err)
	}
	return nil
}

// loadOutcome reads the persisted outcome; nil when there is none.
func loadOutcome(dataDir string) (*Outcome, error) {
	data, err := os.ReadFile(filepath.Join(stateDir(dataDir), lastOperationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last operation: %w", err)
	}
	var o Outcome
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("parse last operation: %w", err)
	}
	return &o, nil
}
