package host

// SetBeforeArchive installs a hook run after the snapshot of every create.
func SetBeforeArchive(h *Host, f func()) { h.beforeArchive = f }

// SetUploadReserved installs a hook run once an upload holds its key.
func SetUploadReserved(h *Host, f func()) { h.uploadReserved = f }

// SetStagedCheckStarted installs a hook run as a restore's check of its
// staged databases starts.
func SetStagedCheckStarted(h *Host, f func(duringExtraction bool)) { h.stagedCheckStarted = f }

// CronRunning reports whether a run of cron job id has not returned yet.
func CronRunning(h *Host, id string) bool { return h.cron.Running(id) }

// SetFreeSpace replaces how the host reads a filesystem's free space:
// f returns the bytes available and the filesystem's identity.
func SetFreeSpace(h *Host, f func(path string) (avail int64, dev uint64, err error)) {
	h.freeSpace = func(path string) (fsSpace, error) {
		avail, dev, err := f(path)
		return fsSpace{avail: avail, dev: dev}, err
	}
}

// StatfsSpace is the real free-space reader.
func StatfsSpace(path string) (avail int64, dev uint64, err error) {
	sp, err := statfsSpace(path)
	return sp.avail, sp.dev, err
}

// FormatBytes is formatBytes.
var FormatBytes = formatBytes

// ReleaseDataDir drops h's data-directory lock, as the end of its process
// would: tests that play a restart in one process call it first.
func ReleaseDataDir(h *Host) { h.unlock() }
