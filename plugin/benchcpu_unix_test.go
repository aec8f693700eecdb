//go:build unix

package plugin_test

import (
	"syscall"
	"time"
)

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// syncAll writes every dirty page back (sync(2)).
func syncAll() { syscall.Sync() }
