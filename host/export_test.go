package host

// SetBeforeArchive installs a hook run after the snapshot of every create.
func SetBeforeArchive(h *Host, f func()) { h.beforeArchive = f }
