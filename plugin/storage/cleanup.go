package storage

import (
	"os"
	"strings"
	"time"
)

// newPrefix names a temp file between its creation and its lock; cleanup
// removes such files only when they are old (a crash in that instant).
const newPrefix = ".new-"

// staleAfter is how old an unlocked ".new-" file must be to be a leftover.
const staleAfter = time.Minute

// removeStaleTemps deletes the temp files in root that no writer holds:
// leftovers of a process killed mid-write. A live writer's temp file is
// locked (and written to) and stays. Best effort: errors leave files for
// next time.
func removeStaleTemps(root storeRoot, names []string) (removed int) {
	now := time.Now()
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			// Locked from before it got this name: unlocked means dead.
		case strings.HasPrefix(name, newPrefix):
			if info, err := root.Lstat(name); err != nil || now.Sub(info.ModTime()) < staleAfter {
				continue
			}
		default:
			continue
		}
		f, err := root.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if f.Lock() == nil {
			// Ours now: no writer has it. Remove while holding the lock.
			if root.Remove(name) == nil {
				removed++
			}
		}
		f.Close()
	}
	return removed
}
