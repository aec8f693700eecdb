//go:build unix

package host

import (
	"errors"
	"syscall"
)

// killAndReap kills the process pid, our child, and waits for it.
func killAndReap(pid int) {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	reap(pid)
}

// reap waits for our child pid to exit, so it does not linger as a zombie.
func reap(pid int) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}
