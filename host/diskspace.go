package host

import (
	"fmt"
	"strings"

	"github.com/pocketbackup/pocketbackup/host/metrics"
)

// volumesFree is the free space of the data directory's filesystem and,
// for local storage, of the backups folder's (metrics.VolumeData,
// VolumeBackups).
func (h *Host) volumesFree() map[string]uint64 {
	out := map[string]uint64{}
	if sp, err := h.freeSpace(h.cfg.DataDir); err == nil {
		out[metrics.VolumeData] = uint64(max(sp.avail, 0))
	}
	if dir := localStorageDir(h.storageURL()); dir != "" {
		if sp, err := h.freeSpace(existingAncestor(dir)); err == nil {
			out[metrics.VolumeBackups] = uint64(max(sp.avail, 0))
		}
	}
	return out
}

// spaceWarning is the /api/health warning when the next create or restore
// would not fit, judged by the newest stored backup's size: a create needs
// about that much in a local backups folder, a restore about twice that
// in the data directory (the extracted copy and, for remote storage, the
// downloaded archive). "" when both fit or nothing is known yet.
func (h *Host) spaceWarning() string {
	h.fresh.mu.Lock()
	size, known := h.fresh.newestSize, h.fresh.listedOnce
	h.fresh.mu.Unlock()
	if !known || size <= 0 {
		return ""
	}
	return spaceWarningFor(size, h.volumesFree())
}

// spaceWarningFor is spaceWarning's judgement for a newest backup of size
// bytes and the free space per volume.
func spaceWarningFor(size int64, free map[string]uint64) string {
	var warn []string
	if f, ok := free[metrics.VolumeBackups]; ok && f < uint64(size) {
		warn = append(warn, fmt.Sprintf("the next backup may not fit in the backups folder (about %d bytes needed, %d free)", size, f))
	}
	if f, ok := free[metrics.VolumeData]; ok && f < 2*uint64(size) {
		warn = append(warn, fmt.Sprintf("restoring the newest backup may not fit in the data directory (about %d bytes needed, %d free)", 2*size, f))
	}
	if len(warn) == 0 {
		return ""
	}
	return "Low disk space: " + strings.Join(warn, "; ") + "."
}
