package storage

import (
	"os"
	"strings"
)

// removeStaleTemps deletes the temp files in root that no writer holds:
// leftovers of a process killed mid-write. A live writer's temp file is
// locked and stays. It is best effort: errors leave files for next time.
func removeStaleTemps(root *os.Root, names []string) (removed int) {
	for _, name := range names {
		if !strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		f, err := root.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if lockFile(f) == nil {
			// Ours now: no writer has it. Remove while holding the lock.
			if root.Remove(name) == nil {
				removed++
			}
		}
		f.Close()
	}
	return removed
}
