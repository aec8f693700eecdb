package restore

import (
	"fmt"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/filestamp"
)

// Resolution is what Resume did.
type Resolution struct {
	// Found is false when there was no journal: nothing to do.
	Found bool
	Key   string
	// Restored: the new data is in place and passed verification.
	Restored bool
	// Err, when not nil, is why the restore was rolled back.
	Err      error
	Started  time.Time
	Finished time.Time
}

// Verify checks the data directory after a swap (e.g. that its databases
// open and pass quick_check). An error rolls the swap back.
type Verify func(dataDir string) error

// VerifyChecked is a Verify that is also given the stamps of the files
// verified before the swap (Journal.Checked, nil when there are none), so
// that it checks again only what no longer matches them.
type VerifyChecked func(dataDir string, checked []filestamp.Stamp) error

// Resume finishes whatever restore a journal in stateDir describes (the
// filesystem part of a host's recovery at start: package host wraps it with
// the database checks and the outcome it records for the app). Call it
// at start, before anything opens files in the data directory. It completes
// the swap, verifies it, and on failure puts the old data back. The
// journal is removed once the data directory is settled; the old (or the
// refused new) entries stay in the journal's folders for the caller to
// delete. An error means the data directory could not be settled and
// nothing should open it.
func Resume(stateDir string, verify Verify, hook Hook) (Resolution, error) {
	return resumeOn(osFS{}, stateDir, verify, hook)
}

// ResumeChecked is Resume with a verification that is given the
// journal's stamps (see PrepareChecked).
func ResumeChecked(stateDir string, verify VerifyChecked, hook Hook) (Resolution, error) {
	return resumeCheckedOn(osFS{}, stateDir, verify, hook)
}

func resumeOn(fsys fileSystem, stateDir string, verify Verify, hook Hook) (Resolution, error) {
	var v VerifyChecked
	if verify != nil {
		v = func(dataDir string, _ []filestamp.Stamp) error { return verify(dataDir) }
	}
	return resumeCheckedOn(fsys, stateDir, v, hook)
}

func resumeCheckedOn(fsys fileSystem, stateDir string, verify VerifyChecked, hook Hook) (Resolution, error) {
	j, err := readJournal(fsys, stateDir)
	if err != nil || j == nil {
		return Resolution{}, err
	}
	out := Resolution{Found: true, Key: j.Key, Started: j.Started}
	swapErr := Swap(j, hook)
	if swapErr == nil && verify != nil {
		swapErr = verify(j.DataDir, j.Checked)
	}
	if swapErr == nil {
		out.Restored = true
	} else {
		out.Err = swapErr
		if err := Rollback(j, hook); err != nil {
			return out, fmt.Errorf("restore failed (%v) and rolling back failed: %w", swapErr, err)
		}
	}
	if err := removeJournal(fsys, stateDir); err != nil {
		return out, err
	}
	out.Finished = time.Now().UTC()
	return out, nil
}

// Abandon removes a journal whose swap never started (for example when the
// app could not be stopped): the old data is still in place.
func Abandon(stateDir string) error {
	return abandonOn(osFS{}, stateDir)
}

func abandonOn(fsys fileSystem, stateDir string) error {
	j, err := readJournal(fsys, stateDir)
	if err != nil {
		return err
	}
	if j == nil {
		return nil
	}
	if err := Rollback(j, nil); err != nil {
		return fmt.Errorf("abandon restore: %w", err)
	}
	return removeJournal(fsys, stateDir)
}
