package host

// SetBeforeArchive installs a hook run after the snapshot of every create.
func SetBeforeArchive(h *Host, f func()) { h.beforeArchive = f }

// SetUploadReserved installs a hook run once an upload holds its key.
func SetUploadReserved(h *Host, f func()) { h.uploadReserved = f }
