package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pocketbackup/pocketbackup/internal/durable"
	"github.com/pocketbackup/pocketbackup/internal/filestamp"
)

// Hook is called after each durable step, named: "moved-out:<name>",
// "moved-in:<name>", "swapped", "rolled-back:<name>", "put-back:<name>".
// Tests use it to crash at every step; it is nil in production.
type Hook func(step string)

func (h Hook) at(step string) {
	if h != nil {
		h(step)
	}
}

// Prepare writes the intent journal for swapping dataDir's contents with
// staged's. Entries named in keep (and the state and temp folders, which
// the caller lists there) stay where they are. staged and old must be on
// dataDir's filesystem; old must not exist yet.
func Prepare(stateDir, dataDir, staged, old, key string, keep []string) (*Journal, error) {
	return prepareOn(osFS{}, stateDir, dataDir, staged, old, key, keep, nil)
}

// PrepareChecked is Prepare for a staged tree whose files the caller has
// verified and stamped: the stamps go into the journal, and Resume passes
// them to its verification (see ResumeChecked).
func PrepareChecked(stateDir, dataDir, staged, old, key string, keep []string, checked []filestamp.Stamp) (*Journal, error) {
	return prepareOn(osFS{}, stateDir, dataDir, staged, old, key, keep, checked)
}

func prepareOn(fsys fileSystem, stateDir, dataDir, staged, old, key string, keep []string, checked []filestamp.Stamp) (*Journal, error) {
	oldList, err := listEntries(fsys, dataDir, keep)
	if err != nil {
		return nil, fmt.Errorf("list data dir: %w", err)
	}
	newList, err := listEntries(fsys, staged, keep)
	if err != nil {
		return nil, fmt.Errorf("list staged dir: %w", err)
	}
	if err := makeDir(fsys, stateDir); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	j := &Journal{
		Version: journalVersion, Key: key, DataDir: dataDir, Staged: staged, Old: old,
		OldList: oldList, NewList: newList, Started: time.Now().UTC(), Checked: checked, fsys: fsys,
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := durable.WriteFileAtomicFS(fsys, filepath.Join(stateDir, JournalFile), data, 0o600); err != nil {
		return nil, fmt.Errorf("write restore journal: %w", err)
	}
	return j, nil
}

// listEntries returns the names in dir, sorted, without those in keep.
func listEntries(fsys fileSystem, dir string, keep []string) ([]string, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range entries {
		if !slices.Contains(keep, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// Swap moves the old entries out and the staged ones in, as the journal
// says. It is idempotent: run again after a crash, it completes the swap.
func Swap(j *Journal, hook Hook) error {
	fsys := j.filesystem()
	if err := makeDir(fsys, j.Old); err != nil {
		return fmt.Errorf("old dir: %w", err)
	}
	for _, name := range j.OldList {
		// Once old/name exists the old entry is out, and a name in the
		// data dir is the new entry already moved in.
		moved, err := moveOnce(fsys, filepath.Join(j.DataDir, name), filepath.Join(j.Old, name), false)
		if err != nil {
			return fmt.Errorf("move out %s: %w", name, err)
		}
		if moved {
			if err := syncBoth(fsys, j.DataDir, j.Old); err != nil {
				return err
			}
			hook.at("moved-out:" + name)
		}
	}
	for _, name := range j.NewList {
		moved, err := moveOnce(fsys, filepath.Join(j.Staged, name), filepath.Join(j.DataDir, name), true)
		if err != nil {
			return fmt.Errorf("move in %s: %w", name, err)
		}
		if moved {
			if err := syncBoth(fsys, j.Staged, j.DataDir); err != nil {
				return err
			}
			hook.at("moved-in:" + name)
		}
	}
	hook.at("swapped")
	return nil
}

// Rollback undoes a swap, complete or not: the new entries go back to the
// staged folder and the old ones back into the data directory. Idempotent.
func Rollback(j *Journal, hook Hook) error {
	fsys := j.filesystem()
	if err := makeDir(fsys, j.Staged); err != nil {
		return fmt.Errorf("staged dir: %w", err)
	}
	for _, name := range j.NewList {
		// A new entry is in the data dir only if it was moved in; an old
		// entry of the same name is then already in the old folder.
		if err := fsys.Lstat(filepath.Join(j.Old, name)); slices.Contains(j.OldList, name) && err != nil {
			continue // still the old entry: it never left
		}
		moved, err := moveOnce(fsys, filepath.Join(j.DataDir, name), filepath.Join(j.Staged, name), false)
		if err != nil {
			return fmt.Errorf("roll back %s: %w", name, err)
		}
		if moved {
			if err := syncBoth(fsys, j.DataDir, j.Staged); err != nil {
				return err
			}
			hook.at("rolled-back:" + name)
		}
	}
	for _, name := range j.OldList {
		moved, err := moveOnce(fsys, filepath.Join(j.Old, name), filepath.Join(j.DataDir, name), true)
		if err != nil {
			return fmt.Errorf("put back %s: %w", name, err)
		}
		if moved {
			if err := syncBoth(fsys, j.Old, j.DataDir); err != nil {
				return err
			}
			hook.at("put-back:" + name)
		}
	}
	return nil
}

// moveOnce renames src to dst unless that already happened: src gone, or
// dst present. When both are present, strict makes it an error (the swap's
// ordering rules that state out), otherwise dst is taken as already moved.
// Nothing is ever overwritten.
func moveOnce(fsys fileSystem, src, dst string, strict bool) (bool, error) {
	srcErr := fsys.Lstat(src)
	dstErr := fsys.Lstat(dst)
	switch {
	case srcErr != nil && !errors.Is(srcErr, os.ErrNotExist):
		return false, srcErr
	case dstErr != nil && !errors.Is(dstErr, os.ErrNotExist):
		return false, dstErr
	case srcErr != nil: // src gone: moved before
		return false, nil
	case dstErr == nil && strict:
		return false, fmt.Errorf("%s is in the way", filepath.Base(dst))
	case dstErr == nil:
		return false, nil
	}
	return true, fsys.Rename(src, dst)
}

// syncBoth fsyncs the two folders of a rename.
func syncBoth(fsys fileSystem, a, b string) error {
	return errors.Join(fsys.SyncDir(a), fsys.SyncDir(b))
}
