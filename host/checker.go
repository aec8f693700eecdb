package host

import "github.com/pocketbackup/pocketbackup/host/internal/sqlitesnap"

// RunChecker must be the first call of an embedding app's main:
//
//	func main() {
//		if code, ok := host.RunChecker(); ok {
//			os.Exit(code)
//		}
//		…
//	}
//
// A restore checks its staged databases in a child process, the app's own
// executable started again with POCKETBACKUP_CHECK_DATABASES set. In that
// child RunChecker runs the check and returns its exit status with ok
// true, and main must exit with it at once; in a normal start it returns
// ok false and does nothing. An app whose main does not call it cannot
// restore: the restore fails before the app is touched.
func RunChecker() (exitCode int, ok bool) {
	return sqlitesnap.CheckerChild()
}

// checkerLimits are the bounds of the checker of the databases staged in
// dir: Config's, or the defaults for their size.
func (h *Host) checkerLimits(dir string) sqlitesnap.Limits {
	lim := sqlitesnap.DefaultLimits(sqlitesnap.TopLevelBytes(dir))
	if h.cfg.CheckTimeout > 0 {
		lim.Timeout = h.cfg.CheckTimeout
	}
	if h.cfg.CheckMemory > 0 {
		lim.Memory = h.cfg.CheckMemory
	}
	return lim
}
