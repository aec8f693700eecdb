package host

// SetBeforeArchive installs a hook run after the snapshot of every create.
func SetBeforeArchive(h *Host, f func()) { h.beforeArchive = f }

// SetUploadReserved installs a hook run once an upload holds its key.
func SetUploadReserved(h *Host, f func()) { h.uploadReserved = f }

// CronRunning reports whether a run of cron job id has not returned yet.
func CronRunning(h *Host, id string) bool { return h.cron.Running(id) }

// ReleaseDataDir drops h's data-directory lock, as the end of its process
// would: tests that play a restart in one process call it first.
func ReleaseDataDir(h *Host) { h.unlock() }
